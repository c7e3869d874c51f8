//! Where the lake lives and how files are sized.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, bail};
use url::Url;

/// The standard AWS variables handed to delta-rs as storage options for an `s3://` lake.
/// (delta-rs would also read most of them itself; passing them makes the lake's
/// configuration visible in one place and testable.) The last two are read only to be
/// refused: delta-rs 1.x ignores the first and the second makes commits unsafe.
pub const AWS_VARIABLES: [&str; 13] = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_S3_ADDRESSING_STYLE",
    "AWS_CONDITIONAL_PUT",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_S3_LOCKING_PROVIDER",
    "AWS_S3_ALLOW_UNSAFE_RENAME",
];

/// Default size at which a write rolls to a new Parquet file.
pub const DEFAULT_TARGET_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// Default bound on a row group's encoded size (and so on each writer's buffered data).
pub const DEFAULT_ROW_GROUP_BYTES: usize = 8 * 1024 * 1024;

/// Where the lake lives and how it writes.
#[derive(Clone)]
pub struct LakeConfig {
    /// A local directory path, or an `s3://bucket/prefix` URL.
    pub root: String,
    /// delta-rs / object_store storage options (e.g. `AWS_REGION`, `AWS_ENDPOINT_URL`).
    pub storage_options: HashMap<String, String>,
    /// A write rolls to a new Parquet file once the current one reaches this size.
    pub target_file_bytes: u64,
    /// A row group is closed once its encoded size reaches this bound.
    pub row_group_bytes: usize,
    /// Parquet writers encoding one write's batches in parallel, each to its own files
    /// (default: one per core).
    pub writers: usize,
}

impl LakeConfig {
    /// A lake at `root` with no storage options and the default file sizes.
    pub fn new(root: impl Into<String>) -> LakeConfig {
        LakeConfig {
            root: root.into(),
            storage_options: HashMap::new(),
            target_file_bytes: DEFAULT_TARGET_FILE_BYTES,
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
            writers: std::thread::available_parallelism().map_or(1, |cores| cores.get()),
        }
    }

    /// A lake at `root` whose storage options are the [`AWS_VARIABLES`] set in the
    /// environment.
    pub fn from_env(root: impl Into<String>) -> LakeConfig {
        let mut config = LakeConfig::new(root);
        for name in AWS_VARIABLES {
            if let Ok(value) = std::env::var(name)
                && !value.is_empty()
            {
                config.storage_options.insert(name.to_string(), value);
            }
        }
        config
    }
}

/// Storage options may hold credentials: only their names are printed.
impl fmt::Debug for LakeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&String> = self.storage_options.keys().collect();
        keys.sort();
        f.debug_struct("LakeConfig")
            .field("root", &self.root)
            .field("storage_options", &keys)
            .field("target_file_bytes", &self.target_file_bytes)
            .field("row_group_bytes", &self.row_group_bytes)
            .field("writers", &self.writers)
            .finish()
    }
}

/// The root as a URL ending in `/`, and the local directory when there is one (created
/// if missing, made absolute so table locations do not depend on the working directory).
pub(super) fn root_url(root: &str) -> anyhow::Result<(Url, Option<PathBuf>)> {
    if root.contains("://") {
        let mut url = Url::parse(root).with_context(|| format!("lake root `{root}` is not a valid URL"))?;
        match url.scheme() {
            "s3" | "s3a" => {}
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|_| anyhow::anyhow!("lake root `{root}` is not a local path"))?;
                return local_root(path);
            }
            other => bail!(
                "lake root `{root}`: the `{other}` scheme is not supported; use a directory or s3://bucket/prefix"
            ),
        }
        if url.host_str().unwrap_or_default().is_empty() {
            bail!("lake root `{root}` names no bucket");
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        return Ok((url, None));
    }
    local_root(PathBuf::from(root))
}

fn local_root(path: PathBuf) -> anyhow::Result<(Url, Option<PathBuf>)> {
    std::fs::create_dir_all(&path).with_context(|| format!("cannot create lake directory {}", path.display()))?;
    let path = path
        .canonicalize()
        .with_context(|| format!("cannot resolve lake directory {}", path.display()))?;
    let url = Url::from_directory_path(&path)
        .map_err(|_| anyhow::anyhow!("lake directory {} is not absolute", path.display()))?;
    Ok((url, Some(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_become_directory_urls() {
        let (url, local) = root_url("s3://bucket/some/prefix").unwrap();
        assert_eq!(url.as_str(), "s3://bucket/some/prefix/");
        assert!(local.is_none());
        let dir = tempfile::tempdir().unwrap();
        let (url, local) = root_url(dir.path().join("lake").to_str().unwrap()).unwrap();
        assert!(
            url.as_str().starts_with("file:///") && url.as_str().ends_with("/lake/"),
            "{url}"
        );
        assert!(local.unwrap().is_dir());
        assert!(root_url("gs://bucket").is_err());
        assert!(root_url("s3:///prefix").is_err());
    }

    #[test]
    fn debug_never_prints_option_values() {
        let mut config = LakeConfig::new("s3://b/p");
        config
            .storage_options
            .insert("AWS_SECRET_ACCESS_KEY".into(), "very-secret".into());
        let shown = format!("{config:?}");
        assert!(
            shown.contains("AWS_SECRET_ACCESS_KEY") && !shown.contains("very-secret"),
            "{shown}"
        );
    }
}
