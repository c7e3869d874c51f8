//! What the delivery worker watches for besides new events: runs overdue by their flow's
//! delay threshold, flows whose landed data is older than their freshness threshold, partial runs below their
//! flow's failed-records threshold (not sent), and old events to remove. Each flow is
//! judged by its own `inletAlerts`, else the server's `[alerts]`; each event is written at
//! most once (its id is derived from the run it reports).

use std::time::Duration;

use serde_json::Value;

use super::deliver::{Deliverer, FAN_OUT_BATCH};
use super::events::{AlertEvent, EventKind};
use super::thresholds::{DELAY_MINUTES, FIELD, FRESHNESS_MINUTES, FlowThresholds, partial_above};
use crate::flows::model::FLOW_KIND;
use crate::identity::Tenant;
use crate::store::{Landed, PendingEvent, StoreError, now_millis};

/// Flows looked at per pass (one row each).
const FLOWS_PER_PASS: i64 = 10_000;

/// The shorter of the server's threshold and the shortest a flow may set: the watcher
/// reads candidates past it, then judges each by its flow's own.
fn shortest(server: Option<Duration>, minutes: u64) -> Duration {
    let flow_least = Duration::from_secs(minutes * 60);
    server.map_or(flow_least, |s| s.min(flow_least))
}

impl Deliverer {
    /// Removes events and finished deliveries older than `keep_for`.
    /// Rate windows closed a while ago go too.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        self.store
            .prune_delivery_rates(now_millis() - 2 * super::rate::RATE_WINDOW_MS)
            .await?;
        self.store
            .prune_alerts(now_millis() - self.settings.keep_for.as_millis() as i64)
            .await
    }

    /// A flow's stored document (`None`: deleted) and its thresholds (none set, or
    /// unreadable: the server's).
    async fn flow_thresholds(
        &self,
        tenant: &Tenant,
        flow_id: &str,
    ) -> Result<(Option<Value>, FlowThresholds), StoreError> {
        let doc = self
            .store
            .get_resource(FLOW_KIND, tenant, flow_id)
            .await?
            .map(|row| row.doc);
        let thresholds = doc
            .as_ref()
            .and_then(|doc| FlowThresholds::parse(&doc[FIELD]).ok())
            .unwrap_or_default();
        Ok((doc, thresholds))
    }

    /// Writes a delay event for each run overdue by its flow's delay threshold; how many.
    /// A run is reported once: its event's id is the run's, and written only if absent.
    pub async fn report_delays(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let least = shortest(Some(self.settings.delay_after), DELAY_MINUTES.0);
        let late = self
            .store
            .late_flows(now - least.as_secs() as i64, FLOWS_PER_PASS)
            .await?;
        let mut reported = 0;
        for flow in late {
            let (_, thresholds) = self.flow_thresholds(&flow.tenant, &flow.flow_id).await?;
            let due_before = now - thresholds.delay_after(&self.settings).as_secs() as i64;
            if flow.oldest_due_at > due_before {
                continue;
            }
            for run in self
                .store
                .overdue_runs(&flow.flow_id, due_before, FAN_OUT_BATCH)
                .await?
            {
                tracing::warn!(run = %run.id, flow = %run.flow_id, "run delayed past its flow's delay threshold");
                self.store
                    .insert_alert_event_once(&AlertEvent::delay_of(&run, now_millis()))
                    .await?;
                reported += 1;
            }
        }
        Ok(reported)
    }

    /// Writes a freshness event for each enabled flow whose dataset is older than its
    /// freshness threshold (when it or the server sets one): the newest data it landed (a
    /// window's end, a change run's position), or nothing since its first run was due; how
    /// many. Judged by the flow clock, as windows are.
    pub async fn report_stale_flows(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let least = shortest(self.settings.freshness_after, FRESHNESS_MINUTES.0);
        let mut reported = 0;
        for stale in self
            .store
            .stale_flows(now - least.as_secs() as i64, FLOWS_PER_PASS)
            .await?
        {
            let (doc, thresholds) = self.flow_thresholds(&stale.tenant, &stale.flow_id).await?;
            // A deleted or disabled flow is expected not to land anything new.
            let enabled = doc.is_some_and(|doc| doc["state"] == "enabled");
            let Some(after) = thresholds.freshness_after(&self.settings).filter(|_| enabled) else {
                continue;
            };
            let since = match &stale.landed {
                Landed::UpTo { up_to, .. } => *up_to,
                Landed::Never { first_due } => *first_due,
            };
            if since >= now - after.as_secs() as i64 {
                continue;
            }
            let run = match &stale.landed {
                Landed::UpTo { run_id, .. } => self.store.get_run(&stale.tenant, run_id).await?,
                Landed::Never { .. } => self.store.last_run(&stale.flow_id).await?,
            };
            let Some(run) = run else { continue };
            tracing::warn!(flow = %run.flow_id, "flow stale past its freshness threshold");
            self.store
                .insert_alert_event_once(&AlertEvent::stale_of(&run, &stale.landed, now_millis()))
                .await?;
            reported += 1;
        }
        Ok(reported)
    }

    /// Whether `event` is one to send: a `flow.run.partial` only when its run skipped more
    /// of its input than the flow's failed-records threshold; every other kind always.
    pub(super) async fn worth_sending(&self, event: &PendingEvent) -> Result<bool, StoreError> {
        if event.kind != EventKind::RunPartial.as_str() {
            return Ok(true);
        }
        let Some(flow_id) = &event.flow_id else {
            return Ok(true);
        };
        let (_, thresholds) = self.flow_thresholds(&event.tenant, flow_id).await?;
        let payload: Value = serde_json::from_str(&event.payload).unwrap_or_default();
        let records = &payload["data"]["metrics"]["recordSummary"];
        let count = |name: &str| records[name].as_u64().unwrap_or(0);
        Ok(partial_above(
            count("failedRecordCount"),
            count("inputRecordCount"),
            thresholds.failed_records_percent(&self.settings),
        ))
    }
}
