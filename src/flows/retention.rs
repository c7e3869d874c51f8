//! Retention of runs and their batches, applied in the background by every process (each
//! pass is idempotent, so several processes may prune at once). What may be removed is
//! decided by the store (`Store::prune_runs`): never a run that has not ended, a failed
//! run that holds later windows, a cancelled run of a living flow, or the run a flow's
//! `lastRunDetails` shows. A removed run's batches go with it, except a batch its dataset
//! names as its last (or last successful) one.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use crate::catalog::{self, CatalogError};
use crate::store::Store;

/// How often the background pass runs.
pub const EVERY: Duration = Duration::from_secs(3600);

/// What retention keeps, and where.
pub struct Retention {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// Runs kept per flow, however old (the newest ones).
    pub keep: usize,
    /// Runs younger than this are kept, however many.
    pub max_age: Duration,
}

/// What one pass removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub runs: usize,
    pub batches: usize,
}

impl Retention {
    /// Removes every run (and its batches) retention lets go now.
    pub async fn pass(&self) -> Result<Pruned, CatalogError> {
        let cutoff = self.clock.wall_millis() - self.max_age.as_millis() as i64;
        let mut pruned = Pruned::default();
        loop {
            let runs = self.store.prune_runs(self.keep as i64, cutoff).await?;
            for run in &runs {
                for batch in &run.batches {
                    if catalog::delete_old_batch(&self.store, &run.tenant, batch).await? {
                        pruned.batches += 1;
                    }
                }
            }
            pruned.runs += runs.len();
            if runs.is_empty() {
                return Ok(pruned);
            }
        }
    }
}

/// Runs a pass now and then every [`EVERY`] until `stop` is cancelled.
pub async fn run(retention: Retention, stop: CancellationToken) {
    loop {
        match retention.pass().await {
            Ok(pruned) if pruned.runs > 0 => {
                tracing::info!(
                    runs = pruned.runs,
                    batches = pruned.batches,
                    "retention removed old runs"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "retention failed; will retry at its next pass"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
