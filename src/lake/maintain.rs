//! Keeping a dataset's table healthy (docs/lake.md, "Maintenance"): its health as the log
//! tells it, and one maintenance pass: compaction of small files (`compact.rs`), a
//! checkpoint with the cleanup of expired log entries, and a vacuum of files no version
//! within the retention needs.
//!
//! Everything here leaves what a reader sees unchanged: compaction commits with
//! `dataChange = false`, a checkpoint only summarises the log, and vacuum deletes files
//! that only versions older than the retention (or no version at all) reference.

use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use deltalake::logstore::object_store::ObjectStoreExt;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::{Lake, LakeError};

/// What a maintenance pass aims at and when it acts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaintenancePolicy {
    /// A data file smaller than this is small.
    pub small_file_bytes: u64,
    /// Compaction writes files of about this size.
    pub target_file_bytes: u64,
    /// Compaction runs once the table has at least this many small files.
    pub min_small_files: usize,
    /// A checkpoint is written once this many commits follow the last one.
    pub checkpoint_after: u64,
    /// Files removed (or written by failed writes) longer ago than this are deleted.
    pub retention: Duration,
}

/// A table's health, as its log tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableHealth {
    pub version: u64,
    /// Data files in the current version.
    pub files: u64,
    /// Of those, the ones smaller than the policy's `small_file_bytes`.
    pub small_files: u64,
    pub bytes: u64,
    /// The newest checkpoint's version, if the table has one.
    pub last_checkpoint: Option<u64>,
    /// Commits a reader replays after the newest checkpoint (all of them without one).
    pub log_entries_since_checkpoint: u64,
}

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Compaction {
    /// The version the compaction committed.
    pub table_version: u64,
    pub files_removed: u64,
    pub bytes_removed: u64,
    pub files_added: u64,
    pub bytes_added: u64,
    pub rows: u64,
    pub millis: u64,
}

/// What one maintenance pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Maintained {
    pub compaction: Option<Compaction>,
    /// Why a due compaction did not commit (it lost a race to another writer).
    pub compaction_skipped: Option<String>,
    /// The version a checkpoint was written at.
    pub checkpoint: Option<u64>,
    /// Log entries older than the table's log retention that were deleted.
    pub log_entries_removed: u64,
    /// Data files vacuum deleted.
    pub files_vacuumed: u64,
    pub millis: u64,
}

impl Maintained {
    /// Whether the pass changed anything.
    pub fn did_something(&self) -> bool {
        self.compaction.is_some()
            || self.checkpoint.is_some()
            || self.log_entries_removed > 0
            || self.files_vacuumed > 0
    }
}

impl Lake {
    /// The dataset's table health; `None` when no table exists yet.
    pub async fn health(&self, dataset_id: &str, small_file_bytes: u64) -> Result<Option<TableHealth>, LakeError> {
        match self.open(&self.table_url(dataset_id)?).await? {
            Some(table) => Ok(Some(health_of(&table, small_file_bytes).await?)),
            None => Ok(None),
        }
    }

    /// One maintenance pass on the dataset's table. With `force`, compaction runs whenever
    /// two small files or more can be merged and a checkpoint is written whenever commits
    /// follow the last one; otherwise the policy's thresholds decide.
    pub async fn maintain(
        &self,
        dataset_id: &str,
        policy: &MaintenancePolicy,
        force: bool,
    ) -> Result<Maintained, LakeError> {
        let started = Instant::now();
        let url = self.table_url(dataset_id)?;
        let mut done = Maintained::default();
        let Some(table) = self.open(&url).await? else {
            return Ok(done);
        };
        let health = health_of(&table, policy.small_file_bytes).await?;
        let min_small = if force { 2 } else { policy.min_small_files.max(2) };
        if health.small_files as usize >= min_small {
            match self.compact(dataset_id, policy).await? {
                Ok(compaction) => done.compaction = Some(compaction),
                Err(reason) => done.compaction_skipped = Some(reason),
            }
        }
        let Some(table) = self.open(&url).await? else {
            return Ok(done);
        };
        let health = health_of(&table, policy.small_file_bytes).await?;
        let due = if force { 1 } else { policy.checkpoint_after.max(1) };
        if health.log_entries_since_checkpoint >= due {
            deltalake::checkpoints::create_checkpoint(&table, None).await?;
            done.checkpoint = Some(health.version);
        }
        // Expired log entries go only up to a checkpoint older than the table's log
        // retention (30 days unless the table says otherwise); delta-rs decides.
        done.log_entries_removed = deltalake::checkpoints::cleanup_metadata(&table, None).await? as u64;
        done.files_vacuumed = vacuum(&table, policy.retention).await?;
        done.millis = started.elapsed().as_millis() as u64;
        Ok(done)
    }
}

/// Deletes the table's files that no version younger than `retention` references: files
/// removed longer ago than that, and files of writes that never committed and are older
/// than that (delta-rs's vacuum in full mode). Returns how many it deleted.
async fn vacuum(table: &DeltaTable, retention: Duration) -> Result<u64, LakeError> {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let (_, metrics) = table
        .clone()
        .vacuum()
        .with_mode(deltalake::operations::vacuum::VacuumMode::Full)
        .with_retention_period(retention)
        .with_enforce_retention_duration(false)
        .await?;
    Ok(metrics.files_deleted.len() as u64)
}

pub(super) async fn health_of(table: &DeltaTable, small_file_bytes: u64) -> Result<TableHealth, LakeError> {
    let sizes: Vec<u64> = table
        .snapshot()?
        .snapshot()
        .file_views(table.log_store().as_ref(), None)
        .map_ok(|file| file.size().max(0) as u64)
        .try_collect()
        .await?;
    let version = table.version().unwrap_or(0);
    let last_checkpoint = last_checkpoint(table).await?;
    Ok(TableHealth {
        version,
        files: sizes.len() as u64,
        small_files: sizes.iter().filter(|size| **size < small_file_bytes).count() as u64,
        bytes: sizes.iter().sum(),
        last_checkpoint,
        // Version 0 is a commit too: without a checkpoint a reader replays version + 1.
        log_entries_since_checkpoint: last_checkpoint.map_or(version + 1, |at| version.saturating_sub(at)),
    })
}

/// The version `_delta_log/_last_checkpoint` names; `None` when there is no checkpoint.
async fn last_checkpoint(table: &DeltaTable) -> Result<Option<u64>, LakeError> {
    let store = table.log_store().object_store(None);
    let path = deltalake::Path::from("_delta_log/_last_checkpoint");
    let bytes = match store.get(&path).await {
        Ok(found) => found.bytes().await.map_err(deltalake::DeltaTableError::from)?,
        Err(deltalake::ObjectStoreError::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(deltalake::DeltaTableError::from(error).into()),
    };
    let hint: serde_json::Value = serde_json::from_slice(&bytes).map_err(deltalake::DeltaTableError::from)?;
    Ok(hint["version"].as_u64())
}

#[cfg(test)]
#[path = "maintain_tests.rs"]
mod tests;
