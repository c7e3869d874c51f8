//! Change data capture slots looked at between runs. A run reports its slot's lag when it
//! moves the slot (`cdc.rs`); a flow that is disabled, or whose runs are far apart, keeps a
//! slot that retains more WAL every minute while no run looks. Every
//! `alerts.slot_check_every` this watcher reads each capture flow's slot from its source:
//! the flow's gauge is set, and above the flow's threshold `cdc.slot.lag` is written, once
//! per slot position (whichever process or run sees that position first).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::engine::Engine;
use super::model::{FLOW_KIND, Flow};
use super::plan::{PlanSources, RunPlan};
use crate::alerts::AlertEvent;
use crate::sources::changes::Capture;
use crate::store::StoreError;

/// Looks at the slots every `every` until `stop`.
pub async fn run(engine: Engine, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match engine.watch_slots().await {
            Ok(reported) if reported > 0 => tracing::info!(reported, "slots past their lag threshold reported"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "looking at the capture slots failed; will retry"),
        }
    }
}

impl Engine {
    /// One look at every capture flow's slot, enabled or not; how many lag events it
    /// wrote. A flow whose source cannot be reached is skipped (logged): its next run
    /// says why.
    pub async fn watch_slots(&self) -> Result<usize, StoreError> {
        let mut reported = 0;
        for row in self.store.scan_resources(FLOW_KIND).await? {
            let Ok(flow) = row.map_err(|_| ()).and_then(|row| Flow::from_row(&row).map_err(|_| ())) else {
                continue;
            };
            // No run, no slot yet: the first run creates it.
            let Some(run) = self.store.last_run(&flow.id).await? else {
                continue;
            };
            let sources = PlanSources {
                store: &self.store,
                cipher: &self.cipher,
                specs: &self.specs,
            };
            let Ok(Some(plan)) = RunPlan::load_any(&sources, &run).await else {
                continue;
            };
            if !plan.cdc {
                continue;
            }
            let source = self.sources.open(plan.source_config.clone());
            let Some(feed) = source.change_feed() else { continue };
            let capture = Capture::for_flow(&flow.id, plan.table.clone());
            let state = match feed.slot(&capture).await {
                Ok(Some(state)) => state,
                Ok(None) => continue,
                Err(error) => {
                    tracing::debug!(flow = %flow.id, %error, "the slot could not be read");
                    continue;
                }
            };
            self.metrics.retained_wal(&flow.id, state.retained_bytes);
            if state.retained_bytes > flow.alerts.slot_lag_bytes(self.settings.slot_lag_alert_bytes) {
                let event = AlertEvent::slot_lag_of(&run, &state, self.clock.wall_millis());
                if self.store.insert_alert_event_once(&event).await? {
                    tracing::warn!(flow = %flow.id, retained = state.retained_bytes, enabled = flow.enabled, "slot past its lag threshold");
                    reported += 1;
                }
            }
        }
        Ok(reported)
    }
}
