//! The scheduler: turns enabled flows into runs, one per due window. Inserting a run is
//! idempotent per (flow, window), so any number of Inlet processes may schedule at once.
//!
//! Each flow is scheduled on its own: a flow whose stored document cannot be read, or
//! whose scheduling fails, is logged and skipped, and every other flow of every tenant is
//! still scheduled in the same pass.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::model::{FLOW_KIND, Flow};
use super::runs::new_run;
use super::schedule::Window;
use crate::store::{Store, StoreError};

/// Most windows recorded for one flow in one pass, so a flow whose start lies far in the
/// past catches up over a few passes instead of flooding the run table at once.
pub const MAX_WINDOWS_PER_TICK: usize = 100;

/// What the scheduler uses.
pub struct Scheduler {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settle_lag: Duration,
}

/// The settle lag `flow`'s windows wait for, in seconds: only a window by a delta column
/// can miss rows that commit late; a full copy reads the whole table whenever it runs.
pub fn settle_lag_of(flow: &Flow, settle_lag: Duration) -> i64 {
    match flow.delta_column {
        Some(_) => settle_lag.as_secs() as i64,
        None => 0,
    }
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Runs recorded.
    pub scheduled: usize,
    /// Flows skipped because their document cannot be read or their scheduling failed.
    pub skipped: Vec<String>,
}

/// Schedules due windows every `tick` until `stop` is cancelled.
pub async fn run(scheduler: Scheduler, tick: Duration, stop: CancellationToken) {
    // Each broken flow is logged as a warning once per process, then at debug level.
    let mut reported = HashSet::new();
    loop {
        match scheduler.pass().await {
            Ok(pass) => {
                for flow in pass.skipped {
                    if reported.insert(flow.clone()) {
                        tracing::warn!(%flow, "this flow is skipped by the scheduler until it can be read and scheduled");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "listing the flows to schedule failed; will retry"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

impl Scheduler {
    /// One pass over every flow of every tenant.
    pub async fn pass(&self) -> Result<Pass, StoreError> {
        let now = self.clock.now();
        let mut pass = Pass::default();
        for row in self.store.scan_resources(FLOW_KIND).await? {
            let flow = match row {
                Ok(row) => Flow::from_row(&row).map_err(|error| (row.id.clone(), error.to_string())),
                Err(unreadable) => Err((unreadable.id, unreadable.error.to_string())),
            };
            let result = match flow {
                Ok(flow) if !flow.enabled => continue,
                Ok(flow) => self.schedule(&flow, now).await.map_err(|e| (flow.id, e.to_string())),
                Err(broken) => Err(broken),
            };
            match result {
                Ok(count) => pass.scheduled += count,
                Err((flow, error)) => {
                    tracing::debug!(%flow, %error, "flow not scheduled");
                    pass.skipped.push(flow);
                }
            }
        }
        Ok(pass)
    }

    /// Records a run for each window of `flow` that is due at `now`.
    async fn schedule(&self, flow: &Flow, now: i64) -> Result<usize, StoreError> {
        let lag = settle_lag_of(flow, self.settle_lag);
        let last = self.store.last_window(&flow.id).await?.map(|last| Window {
            number: last.number,
            start: None,
            end: last.end,
        });
        let mut scheduled = 0;
        for window in flow.schedule.due_windows(last, now, lag, MAX_WINDOWS_PER_TICK) {
            let now_ms = self.clock.wall_millis();
            let run = new_run(
                &flow.tenant,
                &flow.id,
                &window,
                flow.schedule.due_at(&window, lag),
                now_ms,
            );
            if self.store.insert_run(&run).await? {
                tracing::info!(flow = %flow.id, run = %run.id, window = window.number, "run scheduled");
                scheduled += 1;
            }
        }
        Ok(scheduled)
    }
}
