//! What the delivery worker watches for besides new events: runs overdue by
//! `delay_after`, flows stale past `freshness_after`, and old events to remove. Each
//! writes its event at most once (its id is derived from the run it reports).

use super::deliver::{Deliverer, FAN_OUT_BATCH};
use super::events::AlertEvent;
use crate::flows::model::FLOW_KIND;
use crate::store::{StoreError, now_millis};

impl Deliverer {
    /// Removes events and finished deliveries older than `keep_for`.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        self.store
            .prune_alerts(now_millis() - self.settings.keep_for.as_millis() as i64)
            .await
    }

    /// Writes a delay event for each run overdue by `delay_after`; how many. A run is
    /// reported once: its event's id is the run's, and written only if absent.
    pub async fn report_delays(&self) -> Result<usize, StoreError> {
        let due_before = self.clock.now() - self.settings.delay_after.as_secs() as i64;
        let overdue = self.store.overdue_runs(due_before, FAN_OUT_BATCH).await?;
        for run in &overdue {
            tracing::warn!(run = %run.id, flow = %run.flow_id, "run delayed past alerts.delay_after");
            self.store
                .insert_alert_event_once(&AlertEvent::delay_of(run, now_millis()))
                .await?;
        }
        Ok(overdue.len())
    }

    /// Writes a freshness event for each enabled flow whose newest success is older than
    /// `freshness_after` (when set); how many.
    pub async fn report_stale_flows(&self) -> Result<usize, StoreError> {
        let Some(after) = self.settings.freshness_after else {
            return Ok(0);
        };
        let before = now_millis() - after.as_millis() as i64;
        let mut reported = 0;
        for run in self.store.stale_successes(before, FAN_OUT_BATCH).await? {
            let enabled = self
                .store
                .get_resource(FLOW_KIND, &run.tenant, &run.flow_id)
                .await?
                .is_some_and(|flow| flow.doc["state"] == "enabled");
            // A deleted or disabled flow is expected not to land anything new.
            if enabled {
                tracing::warn!(flow = %run.flow_id, "flow stale past alerts.freshness_after");
                self.store
                    .insert_alert_event_once(&AlertEvent::stale_of(&run, now_millis()))
                    .await?;
                reported += 1;
            }
        }
        Ok(reported)
    }
}
