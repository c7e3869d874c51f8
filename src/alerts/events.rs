//! The events: their kinds, and the payload each carries (docs/alerts.md shows them).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::identity::Tenant;
use crate::schema_changes::SCHEMA_CHANGE_PAUSED;
use crate::sources::changes::SlotState;
use crate::store::{Landed, RunRow, RunStatus};

/// What an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    /// A run's attempt started.
    #[serde(rename = "flow.run.start")]
    RunStart,
    /// A run ended successfully.
    #[serde(rename = "flow.run.success")]
    RunSuccess,
    /// A run failed for good (no retry left); carries the error code and message.
    #[serde(rename = "flow.run.failure")]
    RunFailure,
    /// A run succeeded but skipped failed records (partial ingestion); written with the
    /// success, sent only above the flow's failed-records threshold.
    #[serde(rename = "flow.run.partial")]
    RunPartial,
    /// A run met a source schema change its flow's policy does not take: the flow's
    /// windows wait for the user's choice; sent with the failure, carrying the changes.
    #[serde(rename = "flow.paused")]
    FlowPaused,
    /// A run not ended its flow's delay threshold (`alerts.delay_after`, 150 minutes, by
    /// default) after it was due; once per run.
    #[serde(rename = "flow.run.delay")]
    RunDelay,
    /// A flow's newest successful run ended longer ago than its freshness threshold
    /// (`alerts.freshness_after` by default); once per such run.
    #[serde(rename = "flow.freshness")]
    Freshness,
    /// A change data capture run left its slot retaining more WAL than its flow's
    /// threshold (`alerts.slot_lag_bytes` by default); once per run.
    #[serde(rename = "cdc.slot.lag")]
    SlotLag,
    /// Sent once when a subscription is created, and on `POST .../test`.
    #[serde(rename = "subscription.test")]
    Test,
}

/// Every kind a subscription may ask for, in the order documented.
pub const SUBSCRIBABLE: [EventKind; 8] = [
    EventKind::RunStart,
    EventKind::RunSuccess,
    EventKind::RunFailure,
    EventKind::RunPartial,
    EventKind::FlowPaused,
    EventKind::RunDelay,
    EventKind::Freshness,
    EventKind::SlotLag,
];

impl EventKind {
    /// The kind's name in payloads and requests.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RunStart => "flow.run.start",
            EventKind::RunSuccess => "flow.run.success",
            EventKind::RunFailure => "flow.run.failure",
            EventKind::RunPartial => "flow.run.partial",
            EventKind::FlowPaused => "flow.paused",
            EventKind::RunDelay => "flow.run.delay",
            EventKind::Freshness => "flow.freshness",
            EventKind::SlotLag => "cdc.slot.lag",
            EventKind::Test => "subscription.test",
        }
    }

    /// A kind a subscription may ask for, by name.
    pub fn parse(name: &str) -> Option<EventKind> {
        SUBSCRIBABLE.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The events a run's end reports: success (and partial when records were
    /// skipped) or failure and paused (a failed run holds its flow's later windows until
    /// it is re-run, or the user chooses about a schema change); none for other statuses.
    pub fn of_run_end(run: &RunRow) -> Vec<EventKind> {
        match run.status {
            RunStatus::Success if run.details.metrics.record_summary.failed_record_count > 0 => {
                vec![EventKind::RunSuccess, EventKind::RunPartial]
            }
            RunStatus::Success => vec![EventKind::RunSuccess],
            RunStatus::Failed => vec![EventKind::RunFailure, EventKind::FlowPaused],
            _ => Vec::new(),
        }
    }
}

fn paused_by_schema_change(run: &RunRow) -> bool {
    let errors = &run.details.metrics.status_summary.errors;
    errors.iter().any(|e| e.code == SCHEMA_CHANGE_PAUSED)
}

/// An event as the outbox keeps it, and as it is delivered (`payload` is the body).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertEvent {
    pub id: String,
    pub tenant: Tenant,
    pub kind: EventKind,
    /// The flow it is about (none for a test event).
    pub flow_id: Option<String>,
    /// Only this subscription gets it (a test event); `None`: every one that wants it.
    pub subscription_id: Option<String>,
    /// Wall-clock milliseconds.
    pub created_at: i64,
    pub payload: Value,
}

/// A new event id: the receiver's idempotency key.
fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The id of `run`'s delay event (`store/alerts.rs` looks for it by this form).
pub fn delay_event_id(run_id: &str) -> String {
    format!("delay-{run_id}")
}

/// The id of the freshness event of a flow that has landed `landed`: the run that landed
/// it, or the flow itself when nothing has landed.
pub fn stale_event_id(flow_id: &str, landed: &Landed) -> String {
    match landed {
        Landed::UpTo { run_id, .. } => format!("stale-{run_id}"),
        Landed::Never { .. } => format!("stale-never-{flow_id}"),
    }
}

/// The envelope every payload shares.
fn envelope(id: &str, kind: EventKind, tenant: &Tenant, created_at: i64, data: Value) -> Value {
    json!({
        "id": id,
        "type": kind.as_str(),
        "createdAt": created_at,
        "imsOrgId": tenant.org,
        "sandboxName": tenant.sandbox,
        "data": data,
    })
}

impl AlertEvent {
    /// The event `kind` about `run` as it stands now (its metrics and errors included).
    pub fn of_run(kind: EventKind, run: &RunRow, now: i64) -> AlertEvent {
        AlertEvent::of_run_with_id(new_id(), kind, run, now)
    }

    /// The delay event of `run`: its id is the run's own, so a run is reported once
    /// whichever process notices it, however often.
    pub fn delay_of(run: &RunRow, now: i64) -> AlertEvent {
        AlertEvent::of_run_with_id(delay_event_id(&run.id), EventKind::RunDelay, run, now)
    }

    /// The slot lag event of `run`'s flow, whose slot is in `slot`; its id names the flow
    /// and the slot's position, so a position is reported once, by whichever run or
    /// watcher sees it first.
    pub fn slot_lag_of(run: &RunRow, slot: &SlotState, now: i64) -> AlertEvent {
        let id = format!("slotlag-{}-{}", run.flow_id, slot.confirmed);
        let mut event = AlertEvent::of_run_with_id(id, EventKind::SlotLag, run, now);
        event.payload["data"]["retainedWalBytes"] = slot.retained_bytes.into();
        event.payload["data"]["confirmedLsn"] = slot.confirmed.to_string().into();
        event
    }

    /// The freshness event of `run`'s flow, which has landed `landed` (`run` is the run
    /// that landed it, or the flow's newest when nothing has); its id is that run's (the
    /// flow's), so the flow is reported once until newer data lands.
    pub fn stale_of(run: &RunRow, landed: &Landed, now: i64) -> AlertEvent {
        let id = stale_event_id(&run.flow_id, landed);
        let mut event = AlertEvent::of_run_with_id(id, EventKind::Freshness, run, now);
        let data = &mut event.payload["data"];
        match landed {
            Landed::UpTo { up_to, .. } => {
                data["landedUpTo"] = (*up_to).into();
                data["lastSuccessAt"] = run.updated_at.into();
            }
            Landed::Never { first_due } => {
                data["landedUpTo"] = Value::Null;
                data["firstDueAt"] = (*first_due).into();
            }
        }
        event
    }

    fn of_run_with_id(id: String, kind: EventKind, run: &RunRow, now: i64) -> AlertEvent {
        let metrics = &run.details.metrics;
        let duration = match (
            metrics.duration_summary.started_at_utc,
            metrics.duration_summary.completed_at_utc,
        ) {
            (Some(start), Some(end)) => Some(end - start),
            _ => None,
        };
        let data = json!({
            "flowId": run.flow_id,
            "runId": run.id,
            "status": run.status.as_str(),
            "windowNumber": run.window_number,
            "windowStartTime": run.window_start,
            "windowEndTime": run.window_end,
            "dueAt": run.due_at,
            "attempt": run.attempts,
            "durationMs": duration,
            "metrics": metrics,
            "errors": metrics.status_summary.errors,
        });
        let mut data = data;
        if kind == EventKind::FlowPaused {
            data["pausedBy"] = json!(match paused_by_schema_change(run) {
                true => "schemaChange",
                false => "failedRun",
            });
        }
        if !run.details.schema_changes.is_empty() {
            data["schemaChanges"] = json!(run.details.schema_changes);
        }
        AlertEvent {
            payload: envelope(&id, kind, &run.tenant, now, data),
            id,
            tenant: run.tenant.clone(),
            kind,
            flow_id: Some(run.flow_id.clone()),
            subscription_id: None,
            created_at: now,
        }
    }

    /// The test event for subscription `subscription_id` of `tenant`.
    pub fn test(tenant: &Tenant, subscription_id: &str, now: i64) -> AlertEvent {
        let id = new_id();
        let data = json!({"subscriptionId": subscription_id, "message": "a test delivery from Inlet"});
        AlertEvent {
            payload: envelope(&id, EventKind::Test, tenant, now, data),
            id,
            tenant: tenant.clone(),
            kind: EventKind::Test,
            flow_id: None,
            subscription_id: Some(subscription_id.to_string()),
            created_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_by_their_names_and_test_is_not_subscribable() {
        for kind in SUBSCRIBABLE {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(EventKind::parse("subscription.test"), None);
        assert_eq!(EventKind::parse("flow.run.Success"), None);
    }

    #[test]
    fn a_run_end_is_success_with_partial_when_records_were_skipped_or_failure() {
        let tenant = Tenant {
            org: "o".into(),
            sandbox: "prod".into(),
        };
        let window = crate::flows::schedule::Window {
            number: 1,
            start: None,
            end: None,
        };
        let mut run = crate::flows::runs::new_run(&tenant, "f", &window, 0, 0);
        run.status = RunStatus::Success;
        assert_eq!(EventKind::of_run_end(&run), vec![EventKind::RunSuccess]);
        run.details.metrics.record_summary.failed_record_count = 3;
        assert_eq!(
            EventKind::of_run_end(&run),
            vec![EventKind::RunSuccess, EventKind::RunPartial]
        );
        run.status = RunStatus::Failed;
        // Any failure holds the flow's later windows until it is re-run.
        assert_eq!(
            EventKind::of_run_end(&run),
            vec![EventKind::RunFailure, EventKind::FlowPaused]
        );
        let held = AlertEvent::of_run(EventKind::FlowPaused, &run, 1);
        assert_eq!(held.payload["data"]["pausedBy"], "failedRun");
        // A schema change paused the flow: the failure says so, with the changes.
        run.details.metrics.status_summary.errors = vec![crate::store::RunError {
            code: SCHEMA_CHANGE_PAUSED.into(),
            message: "the source's columns changed".into(),
        }];
        run.details.schema_changes = vec![crate::schema_changes::SchemaChange {
            column: "n".into(),
            kind: crate::schema_changes::SchemaChangeKind::TypeChanged,
            from: Some("long".into()),
            to: Some("integer".into()),
            action: crate::schema_changes::SchemaAction::Paused,
        }];
        assert_eq!(
            EventKind::of_run_end(&run),
            vec![EventKind::RunFailure, EventKind::FlowPaused]
        );
        let event = AlertEvent::of_run(EventKind::FlowPaused, &run, 1);
        assert_eq!(event.payload["type"], "flow.paused");
        assert_eq!(event.payload["data"]["schemaChanges"][0]["column"], "n");
        assert_eq!(event.payload["data"]["pausedBy"], "schemaChange");
        run.status = RunStatus::Scheduled;
        assert!(EventKind::of_run_end(&run).is_empty());
        run.status = RunStatus::Cancelled;
        assert!(EventKind::of_run_end(&run).is_empty());
    }
}
