//! Whether the lake's store can take concurrent Delta commits without losing one.
//!
//! A Delta commit is the creation of the log file of the next version. delta-rs 1.x
//! creates it with a put-if-absent (`PutMode::Create`; on S3 a `PUT` with
//! `If-None-Match: *`), so of two writers committing the same version one wins and the
//! other is told, reads the log again and commits on top. delta-rs no longer has a
//! locking provider for stores without that operation. A store that ignores the header
//! (Garage 2.x, older SeaweedFS) lets the second writer overwrite the first commit
//! silently, so the lake is checked once at start-up, with the same client and options
//! delta-rs uses: an object created twice must be refused the second time.

use deltalake::DeltaTableBuilder;
use deltalake::logstore::object_store::path::Path;
use deltalake::logstore::object_store::{self, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use url::Url;

use super::LakeError;

/// Where under the lake root the probe object is made (and removed again).
const PROBE_DIR: &str = "_inlet_probe";

/// Options delta-rs 1.x reads but that would make commits unsafe or that it ignores.
const REFUSED_OPTIONS: [(&str, &str); 2] = [
    (
        "AWS_S3_LOCKING_PROVIDER",
        "delta-rs 1.x has no locking providers any more (it ignores the setting); Inlet relies on the store's \
         conditional writes instead: unset it",
    ),
    (
        "AWS_S3_ALLOW_UNSAFE_RENAME",
        "it lets commits overwrite each other on a store without conditional writes: unset it",
    ),
];

/// Refuses storage options that promise safety delta-rs 1.x does not give.
pub(super) fn check_options(options: &std::collections::HashMap<String, String>) -> Result<(), LakeError> {
    for (name, why) in REFUSED_OPTIONS {
        let set = options
            .iter()
            .any(|(key, value)| key.eq_ignore_ascii_case(name) && !value.is_empty());
        if set {
            return Err(LakeError::RefusedOption {
                name: name.to_string(),
                reason: why.to_string(),
            });
        }
    }
    Ok(())
}

/// Creates one probe object twice with put-if-absent: the first must succeed, the second
/// must be refused, and the object must still hold the first content.
pub(super) async fn check_conditional_put(
    root: &Url,
    options: std::collections::HashMap<String, String>,
) -> Result<(), LakeError> {
    let shown = root.as_str().to_string();
    let unsafe_store = |reason: String| LakeError::UnsafeStore {
        root: shown.clone(),
        reason,
    };
    let store = DeltaTableBuilder::from_url(root.clone())?
        .with_storage_options(options)
        .build_storage()?
        .object_store(None);
    let path = Path::from(format!("{PROBE_DIR}/{}", uuid::Uuid::new_v4()));
    let create = || PutOptions::from(PutMode::Create);
    match store.put_opts(&path, PutPayload::from_static(b"first"), create()).await {
        Ok(_) => {}
        Err(object_store::Error::NotImplemented { .. }) => {
            return Err(unsafe_store(
                "the store client has conditional writes turned off (AWS_CONDITIONAL_PUT=disabled?)".into(),
            ));
        }
        Err(error) => return Err(LakeError::Unreachable(shown, error.to_string())),
    }
    let second = store
        .put_opts(&path, PutPayload::from_static(b"second"), create())
        .await;
    let kept = read(store.as_ref(), &path).await;
    // Removing the probe is tidiness only; a failure leaves one tiny object behind.
    if let Err(error) = store.delete(&path).await {
        tracing::warn!(%error, "removing the lake's probe object failed");
    }
    match second {
        Err(object_store::Error::AlreadyExists { .. }) if kept.as_deref() == Some(b"first".as_slice()) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. }) => Err(unsafe_store(
            "the store refused to create an existing object but changed it anyway".into(),
        )),
        Ok(_) => Err(unsafe_store(
            "a create-if-absent of an existing object succeeded and overwrote it (the store ignores \
             `If-None-Match: *`)"
                .into(),
        )),
        Err(error) => Err(LakeError::Unreachable(shown, error.to_string())),
    }
}

async fn read(store: &dyn ObjectStore, path: &Path) -> Option<Vec<u8>> {
    let got = store.get(path).await.ok()?;
    got.bytes().await.ok().map(|b| b.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_that_promise_a_lock_are_refused() {
        let mut options = std::collections::HashMap::new();
        assert!(check_options(&options).is_ok());
        options.insert("aws_s3_locking_provider".to_string(), "dynamodb".to_string());
        let refused = check_options(&options).unwrap_err().to_string();
        assert!(refused.contains("AWS_S3_LOCKING_PROVIDER"), "{refused}");
        options.clear();
        options.insert("AWS_S3_ALLOW_UNSAFE_RENAME".to_string(), "true".to_string());
        assert!(check_options(&options).is_err());
    }

    /// The local file system creates files exclusively, so it passes.
    #[tokio::test]
    async fn a_local_directory_takes_conditional_writes() {
        let dir = tempfile::tempdir().unwrap();
        let root = Url::from_directory_path(dir.path()).unwrap();
        check_conditional_put(&root, Default::default()).await.unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path().join(PROBE_DIR)).unwrap().collect();
        assert!(left.is_empty(), "the probe object is removed");
    }
}
