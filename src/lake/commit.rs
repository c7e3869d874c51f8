//! The one Delta commit of a write, retried when another writer commits first.
//!
//! delta-rs's own retries are turned off (`max_retries = 0`): after any failed attempt the
//! table is read again and the txn version re-checked, so a window that another worker
//! (or this very attempt, before its error) committed is never committed twice, and a
//! replace always removes the files of the version it commits on top of.

use std::time::Duration;

use deltalake::arrow::datatypes::SchemaRef;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, MetadataExt, Remove, StructType, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;
use serde_json::json;
use url::Url;

use super::{CommitOutcome, CommitSpec, Lake, LakeError, WriteMode, schema, txn_version};

/// How many times a commit is attempted before giving up on a busy table.
const MAX_ATTEMPTS: usize = 10;

/// A write that changes the table's schema (to the write's target schema).
pub(super) struct SchemaUpdate {
    /// The files rewritten with wider types, when a column widened.
    pub(super) rewritten: Option<Rewritten>,
}

/// Files rewritten in the write's commit: the old ones removed, their copies added, both
/// with `dataChange = false` (the rows are the same rows).
pub(super) struct Rewritten {
    pub(super) removes: Vec<Remove>,
    pub(super) adds: Vec<Add>,
}

/// Commits `adds` (already written) to the table at `url`, with the schema change a write
/// may bring; `table` is the table as the write found it (`None`: not created yet).
#[allow(clippy::too_many_arguments)]
pub(super) async fn commit(
    lake: &Lake,
    url: &Url,
    dataset: &str,
    mut table: Option<DeltaTable>,
    target: &SchemaRef,
    (adds, change): (Vec<Add>, Option<SchemaUpdate>),
    rows: u64,
    spec: &CommitSpec,
) -> Result<CommitOutcome, LakeError> {
    let files = adds.len();
    let bytes = adds.iter().map(|add| add.size.max(0) as u64).sum();
    let output = json!({"rows": rows, "files": files, "bytes": bytes});
    for attempt in 1..=MAX_ATTEMPTS {
        let base = table.as_ref().and_then(DeltaTable::version);
        let properties = properties(spec, &output);
        let attempted = match &table {
            None => create(lake, url, dataset, target, &adds, properties).await,
            Some(current) => commit_on(current, (&adds, change.as_ref(), target), spec.mode, properties).await,
        };
        let error = match attempted {
            Ok(version) => {
                return Ok(CommitOutcome::Committed {
                    table_version: version,
                    files,
                    rows,
                    bytes,
                });
            }
            Err(error) => error,
        };
        table = lake.open(url).await?;
        let Some(current) = &table else {
            return Err(error.into());
        };
        if let Some(done) = txn_version(current, &spec.app_id).await?
            && done >= spec.txn_version
        {
            return Ok(CommitOutcome::AlreadyCommitted { txn_version: done });
        }
        if current.version() == base {
            // Nobody else committed: the failure was not a conflict.
            return Err(error.into());
        }
        if change.is_some() {
            // The schema (and the files rewritten for it) were made for the version that
            // is no longer current: the attempt gives up and the run's retry starts over.
            return Err(LakeError::Conflict {
                dataset: dataset.to_string(),
                attempts: attempt,
            });
        }
        schema::check_compatible(dataset, &*super::arrow_schema(current)?, target)?;
        tracing::warn!(dataset, attempt, error = %error, "another writer committed first; committing again");
        tokio::time::sleep(Duration::from_millis(20 * attempt as u64)).await;
    }
    Err(LakeError::Conflict {
        dataset: dataset.to_string(),
        attempts: MAX_ATTEMPTS,
    })
}

/// Version 0: protocol, metadata, the data files and the txn in one commit, so a new
/// table is never seen empty. The protocol is derived from the schema by delta-rs
/// (`timestampNtz` columns enable that table feature, reader 3 / writer 7).
async fn create(
    lake: &Lake,
    url: &Url,
    dataset: &str,
    target: &SchemaRef,
    adds: &[Add],
    properties: CommitProperties,
) -> Result<i64, DeltaTableError> {
    let schema: StructType = target.as_ref().try_into_kernel()?;
    let table = lake
        .builder(url)
        .map_err(|e| DeltaTableError::Generic(e.to_string()))?
        .build()?
        .create()
        .with_table_name(dataset)
        .with_columns(schema.fields().cloned())
        .with_actions(adds.iter().cloned().map(Action::Add))
        .with_save_mode(SaveMode::ErrorIfExists)
        .with_commit_properties(properties)
        .await?;
    Ok(table.version().map_or(0, |v| v as i64))
}

/// A commit on top of the table's current version; a replace removes every file the
/// version has. A schema change comes first, as the new metadata.
async fn commit_on(
    table: &DeltaTable,
    (adds, change, target): (&[Add], Option<&SchemaUpdate>, &SchemaRef),
    mode: WriteMode,
    properties: CommitProperties,
) -> Result<i64, DeltaTableError> {
    let snapshot = table.snapshot()?;
    let mut actions: Vec<Action> = Vec::with_capacity(adds.len() + 1);
    if let Some(change) = change {
        let schema: StructType = target.as_ref().try_into_kernel()?;
        actions.push(Action::Metadata(snapshot.metadata().clone().with_schema(&schema)?));
        if let Some(rewritten) = &change.rewritten {
            actions.extend(rewritten.removes.iter().cloned().map(Action::Remove));
            actions.extend(rewritten.adds.iter().cloned().map(Action::Add));
        }
    }
    actions.extend(adds.iter().cloned().map(Action::Add));
    let mode = match mode {
        WriteMode::Append => SaveMode::Append,
        WriteMode::Replace => {
            let log_store = table.log_store();
            let removes: Vec<Action> = snapshot
                .snapshot()
                .file_views(log_store.as_ref(), None)
                .map_ok(|file| Action::Remove(file.remove_action(true)))
                .try_collect()
                .await?;
            actions.extend(removes);
            SaveMode::Overwrite
        }
    };
    let operation = DeltaOperation::Write {
        mode,
        partition_by: None,
        predicate: None,
    };
    let committed = CommitBuilder::from(properties)
        .with_actions(actions)
        .build(Some(snapshot), table.log_store(), operation)
        .await?;
    Ok(committed.version() as i64)
}

/// The txn action (with `lastUpdated`, so txn retention can expire it correctly), and for
/// `commitInfo` the run and batch ids and what the commit adds (`inletOutput`: rows, files,
/// bytes), by which a later attempt recognises the commit (see `landed.rs`).
pub(super) fn properties(spec: &CommitSpec, output: &serde_json::Value) -> CommitProperties {
    let now = chrono::Utc::now().timestamp_millis();
    CommitProperties::default()
        .with_application_transaction(Transaction::new_with_last_update(
            &spec.app_id,
            spec.txn_version,
            Some(now),
        ))
        .with_metadata([
            ("runId".to_string(), json!(spec.run_id)),
            ("batchId".to_string(), json!(spec.batch_id)),
            ("inletOutput".to_string(), output.clone()),
            (
                "inletCdc".to_string(),
                json!(spec.cdc_position.as_ref().map(|p| json!({"position": p}))),
            ),
            (
                "inletWindows".to_string(),
                json!(
                    spec.first_window
                        .map(|first| json!({"first": first, "last": spec.txn_version}))
                ),
            ),
        ])
        .with_max_retries(0)
}
