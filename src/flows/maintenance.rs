//! Maintenance of the datasets' tables, run in the background by every `inlet serve` and
//! on demand (`POST /dataSets/{id}/action?op=maintain`). A dataset is maintained by one
//! process at a time: the holder of its lease in the metadata store
//! (`store/maintenance.rs`), renewed every third of the lease while a pass runs, so a
//! process that dies gives the dataset up when its lease lapses. What a pass does is the
//! lake's (`lake/maintain.rs`); it never changes what a reader sees and loses every commit
//! race to runs, which therefore lose at most one commit attempt to it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::ensure;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use crate::catalog::DATASET;
use crate::lake::{Lake, LakeError, Maintained, MaintenancePolicy, TableHealth};
use crate::metrics::Metrics;
use crate::store::{LastMaintenance, Store, StoreError};

/// The longest retention: a checkpoint drops the record of files removed longer ago than
/// the table's `delta.deletedFileRetentionDuration` (7 days unless set), after which
/// vacuum could no longer tell such a file from an orphan.
pub const MAX_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// The maintenance settings (`maintenance*` in the configuration file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaintenanceSettings {
    /// Whether the background pass runs (the action works either way).
    pub enabled: bool,
    /// How often the background pass looks at every dataset.
    pub interval: Duration,
    pub policy: MaintenancePolicy,
}

impl MaintenanceSettings {
    /// The settings from the configuration's values, defaults filled in, checked.
    pub fn parse(
        enabled: Option<bool>,
        interval: Duration,
        small_file_bytes: Option<u64>,
        min_small_files: Option<usize>,
        target_file_bytes: Option<u64>,
        checkpoint_after: Option<u64>,
        retention: Duration,
    ) -> anyhow::Result<MaintenanceSettings> {
        let policy = MaintenancePolicy {
            small_file_bytes: small_file_bytes.unwrap_or(32 * 1024 * 1024),
            target_file_bytes: target_file_bytes.unwrap_or(128 * 1024 * 1024),
            min_small_files: min_small_files.unwrap_or(20),
            checkpoint_after: checkpoint_after.unwrap_or(50),
            retention,
        };
        ensure!(
            interval >= Duration::from_secs(1),
            "maintenance_interval must be at least 1s"
        );
        ensure!(
            policy.target_file_bytes >= 1024 * 1024,
            "maintenance_target_file_bytes must be at least 1048576 (1 MiB)"
        );
        ensure!(
            policy.small_file_bytes >= 1 && policy.small_file_bytes <= policy.target_file_bytes,
            "maintenance_small_file_bytes must be between 1 and maintenance_target_file_bytes"
        );
        ensure!(
            policy.min_small_files >= 2,
            "maintenance_min_small_files must be at least 2"
        );
        ensure!(
            policy.checkpoint_after >= 1,
            "maintenance_checkpoint_after must be at least 1"
        );
        ensure!(
            retention >= Duration::from_secs(1) && retention <= MAX_RETENTION,
            "maintenance_retention must be between 1s and 7d (a checkpoint forgets files removed longer ago than 7 days)"
        );
        Ok(MaintenanceSettings {
            enabled: enabled.unwrap_or(true),
            interval,
            policy,
        })
    }
}

/// Why a dataset was not maintained.
#[derive(Debug, thiserror::Error)]
pub enum MaintainError {
    /// Another process (or pass) is maintaining it.
    #[error("the dataset is being maintained by another process; try again later")]
    Busy,
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Maintains datasets for this process.
#[derive(Clone)]
pub struct Maintainer {
    pub store: Store,
    pub lake: Lake,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub policy: MaintenancePolicy,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
    /// This process's name, as lease holder.
    pub holder: String,
}

impl Maintainer {
    /// One maintenance pass on `dataset` under its lease (see `Lake::maintain` for
    /// `force`); the pass is recorded when it did something, and the health gauges set.
    pub async fn maintain(&self, dataset: &str, force: bool) -> Result<Maintained, MaintainError> {
        let until = |now: i64| now + self.lease.as_millis() as i64;
        let now = self.clock.wall_millis();
        if !self
            .store
            .take_maintenance(dataset, &self.holder, now, until(now))
            .await?
        {
            return Err(MaintainError::Busy);
        }
        let outcome = self.maintain_held(dataset, force, until).await;
        let record = match &outcome {
            Ok(done) if done.did_something() => Some(LastMaintenance {
                at: self.clock.wall_millis(),
                doc: json!(done).to_string(),
            }),
            _ => None,
        };
        self.store
            .end_maintenance(dataset, &self.holder, record.as_ref())
            .await?;
        if let Ok(done) = &outcome
            && let Some(compaction) = &done.compaction
        {
            tracing::info!(
                dataset,
                files_removed = compaction.files_removed,
                files_added = compaction.files_added,
                millis = compaction.millis,
                "compacted small files"
            );
        }
        outcome
    }

    /// An on-demand pass: when another pass holds the dataset (the background one, or a
    /// process that died holding it), waits for it to end or its lease to lapse, up to
    /// `patience`, and then runs; `Busy` only when the dataset stayed held that long.
    pub async fn maintain_when_free(&self, dataset: &str, patience: Duration) -> Result<Maintained, MaintainError> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match self.maintain(dataset, true).await {
                Err(MaintainError::Busy) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// The pass, renewing the lease meanwhile; a lease lost stops it (another process
    /// may have taken the dataset over).
    async fn maintain_held(
        &self,
        dataset: &str,
        force: bool,
        until: impl Fn(i64) -> i64,
    ) -> Result<Maintained, MaintainError> {
        let pass = self.lake.maintain(dataset, &self.policy, force);
        tokio::pin!(pass);
        loop {
            tokio::select! {
                done = &mut pass => {
                    let done = done?;
                    if let Some(health) = self.lake.health(dataset, self.policy.small_file_bytes).await? {
                        self.metrics.dataset_health(dataset, &health);
                    }
                    return Ok(done);
                }
                _ = tokio::time::sleep(self.lease / 3) => {
                    let now = self.clock.wall_millis();
                    if !self.store.renew_maintenance(dataset, &self.holder, until(now)).await? {
                        return Err(MaintainError::Busy);
                    }
                }
            }
        }
    }

    /// Maintains every dataset whose lease is free, one after another; stops early when
    /// `stop` is cancelled. Returns how many it maintained.
    pub async fn pass(&self, stop: &CancellationToken) -> Result<usize, StoreError> {
        let mut maintained = 0;
        for dataset in self.store.all_dataset_ids(DATASET).await? {
            if stop.is_cancelled() {
                break;
            }
            match self.maintain(&dataset, false).await {
                Ok(_) => maintained += 1,
                Err(MaintainError::Busy) => {}
                Err(error) => tracing::warn!(dataset, %error, "maintenance failed; will retry at its next pass"),
            }
        }
        Ok(maintained)
    }

    /// The dataset's health and last recorded maintenance, for its item (`inletHealth`).
    pub async fn health(&self, dataset: &str) -> Result<Option<serde_json::Value>, MaintainError> {
        let Some(health) = self.lake.health(dataset, self.policy.small_file_bytes).await? else {
            return Ok(None);
        };
        let last = self.store.last_maintenance(dataset).await?;
        Ok(Some(shown_health(&health, last.as_ref())))
    }
}

/// `inletHealth`: the table's health and what its last maintenance did.
pub fn shown_health(health: &TableHealth, last: Option<&LastMaintenance>) -> serde_json::Value {
    let mut shown = json!(health);
    shown["lastMaintenance"] = match last {
        Some(last) => {
            let mut did: serde_json::Value = serde_json::from_str(&last.doc).unwrap_or_default();
            did["at"] = json!(last.at);
            did
        }
        None => serde_json::Value::Null,
    };
    shown
}

/// Runs a pass every `interval` until `stop` is cancelled.
pub async fn run(maintainer: Maintainer, interval: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(error) = maintainer.pass(&stop).await {
            tracing::warn!(%error, "maintenance could not list datasets; will retry at its next pass");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(small: Option<u64>, min: Option<usize>, retention: Duration) -> anyhow::Result<MaintenanceSettings> {
        MaintenanceSettings::parse(None, Duration::from_secs(60), small, min, None, None, retention)
    }

    #[test]
    fn settings_have_defaults_and_refuse_what_would_be_unsafe() {
        let settings = parse(None, None, MAX_RETENTION).unwrap();
        assert!(settings.enabled);
        assert_eq!(settings.policy.target_file_bytes, 128 * 1024 * 1024);
        assert_eq!(settings.policy.min_small_files, 20);
        let error = parse(None, None, MAX_RETENTION + Duration::from_secs(1)).unwrap_err();
        assert!(error.to_string().contains("maintenance_retention"), "{error}");
        let error = parse(Some(1 << 40), None, MAX_RETENTION).unwrap_err();
        assert!(error.to_string().contains("maintenance_small_file_bytes"), "{error}");
        let error = parse(None, Some(1), MAX_RETENTION).unwrap_err();
        assert!(error.to_string().contains("maintenance_min_small_files"), "{error}");
    }
}
