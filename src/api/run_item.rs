//! A run as the API shows it (§9): the row's status, window and times laid over its
//! recorded details, in the platform's shape, plus Inlet's extensions (`windowNumber`,
//! `retryOf`, `retriedBy`, and `statusSummary.heldBy` on a run that waits for a failed
//! earlier window).

use serde::Serialize;
use serde_json::Value;

use crate::flows::schedule::instant;
use crate::store::{
    DurationSummary, FileSummary, OnDemandParams, RecordSummary, RunError, RunRow, RunStatus, SizeSummary,
};

/// One run.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunItem {
    pub id: String,
    pub flow_id: String,
    pub etag: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub metrics: MetricsItem,
    pub activities: Vec<CopyActivityItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<OnDemandParams>,
    /// Inlet: the window's number (its Delta txn version, and its place in the flow's order).
    pub window_number: i64,
    /// Inlet: the failed run this one re-runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    /// Inlet: the run that re-runs this failed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retried_by: Option<String>,
    /// Inlet: what a change data capture run read and merged.
    #[serde(rename = "inletCdc", skip_serializing_if = "Option::is_none")]
    pub cdc: Option<crate::store::CdcSummary>,
    /// Inlet: the source's schema changes the run met and what it did about each.
    #[serde(rename = "inletSchemaChanges", skip_serializing_if = "Vec::is_empty")]
    pub schema_changes: Vec<crate::schema_changes::SchemaChange>,
    /// Inlet: the user's choice for the paused run this one re-runs.
    #[serde(rename = "inletSchemaChoice", skip_serializing_if = "Option::is_none")]
    pub schema_choice: Option<crate::schema_changes::SchemaChoice>,
}

/// The platform's run metrics.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsItem {
    pub duration_summary: DurationSummary,
    pub size_summary: SizeSummary,
    pub record_summary: RecordSummary,
    pub file_summary: FileSummary,
    pub status_summary: StatusItem,
}

/// The run's status with its errors, warnings and notes.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusItem {
    pub status: RunStatus,
    pub errors: Vec<RunError>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RunError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<RunError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Inlet: the failed run of an earlier window that this scheduled run waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
}

/// The copy activity: the window and the batches written.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CopyActivityItem {
    pub id: &'static str,
    pub name: &'static str,
    pub activity_type: &'static str,
    pub duration_summary: ActivityDuration,
    pub target_info: Vec<TargetInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_version: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub failed_records: Vec<Value>,
}

/// The activity's times and window.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityDuration {
    #[serde(rename = "startedAtUTC")]
    pub started_at_utc: Option<i64>,
    #[serde(rename = "completedAtUTC")]
    pub completed_at_utc: Option<i64>,
    pub extensions: WindowBounds,
}

/// A window as RFC 3339 instants; `null` for an open bound.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WindowBounds {
    pub window_start: Option<String>,
    pub window_end: Option<String>,
}

/// Where the activity wrote: the batches of its attempts, the current one first.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TargetInfo {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub reference: BatchReference,
}

/// Batch ids.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BatchReference {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ids: Vec<String>,
}

/// Why a scheduled run waits: the failed run of an earlier window of its flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub run_id: String,
    pub window_number: i64,
}

impl Hold {
    /// The sentence a held run shows.
    pub fn note(&self) -> String {
        format!(
            "held: window {} of this flow (run {}) failed, and windows land in order; this run starts once that \
             window has landed (re-run it with POST /runs/{}/action?op=re-trigger)",
            self.window_number, self.run_id, self.run_id
        )
    }
}

impl RunItem {
    /// The item of `row`; `hold` is its flow's first failed window, if any.
    pub fn new(row: &RunRow, hold: Option<&Hold>) -> RunItem {
        let details = &row.details;
        let metrics = &details.metrics;
        let summary = &metrics.status_summary;
        let held = hold.filter(|h| row.status == RunStatus::Scheduled && row.window_number > h.window_number);
        let ids: Vec<String> = details.batches.iter().rev().cloned().collect();
        let target_info = if ids.is_empty() {
            Vec::new()
        } else {
            vec![TargetInfo {
                kind: "TargetConnection",
                reference: BatchReference { kind: "Batch", ids },
            }]
        };
        let bound = |seconds: Option<i64>| seconds.map(instant);
        RunItem {
            id: row.id.clone(),
            flow_id: row.flow_id.clone(),
            etag: row.etag.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            metrics: MetricsItem {
                duration_summary: metrics.duration_summary,
                size_summary: metrics.size_summary,
                record_summary: metrics.record_summary,
                file_summary: metrics.file_summary,
                status_summary: StatusItem {
                    status: row.status,
                    errors: summary.errors.clone(),
                    warnings: summary.warnings.clone(),
                    retries: summary.retries,
                    last_error: summary.last_error.clone(),
                    note: held.map(Hold::note).or_else(|| summary.note.clone()),
                    held_by: held.map(|h| h.run_id.clone()),
                },
            },
            activities: vec![CopyActivityItem {
                id: "copyActivity",
                name: "Copy Activity",
                activity_type: "copy",
                duration_summary: ActivityDuration {
                    started_at_utc: metrics.duration_summary.started_at_utc,
                    completed_at_utc: metrics.duration_summary.completed_at_utc,
                    extensions: WindowBounds {
                        window_start: bound(row.window_start),
                        window_end: bound(row.window_end),
                    },
                },
                target_info,
                delta_version: details.delta_version,
                failed_records: details.failed_records.clone(),
            }],
            params: details.params.clone(),
            window_number: row.window_number,
            retry_of: details.retry_of.clone(),
            retried_by: row.replaced_by.clone(),
            cdc: details.cdc.clone(),
            schema_changes: details.schema_changes.clone(),
            schema_choice: details.schema_choice,
        }
    }

    /// The item as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("run items always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::runs::new_run;
    use crate::flows::schedule::Window;
    use crate::identity::Tenant;
    use serde_json::json;

    fn run(number: i64) -> RunRow {
        let tenant = Tenant {
            org: "O@AdobeOrg".into(),
            sandbox: "prod".into(),
        };
        let window = Window {
            number,
            start: Some(1_800_000_000),
            end: Some(1_800_000_900),
        };
        new_run(&tenant, "flow-1", &window, 1_800_000_960, 42)
    }

    #[test]
    fn a_new_run_shows_zero_metrics_its_window_and_the_platforms_shape() {
        let item = RunItem::new(&run(3), None).to_json();
        assert_eq!(item["flowId"], "flow-1");
        assert_eq!(item["createdAt"], 42);
        assert_eq!(item["windowNumber"], 3);
        assert_eq!(item["metrics"]["recordSummary"]["inputRecordCount"], 0);
        assert_eq!(
            item["metrics"]["durationSummary"],
            json!({"startedAtUTC": null, "completedAtUTC": null})
        );
        assert_eq!(
            item["metrics"]["statusSummary"],
            json!({"status": "scheduled", "errors": []})
        );
        let activity = &item["activities"][0];
        assert_eq!(activity["id"], "copyActivity");
        assert_eq!(
            activity["durationSummary"]["extensions"]["windowStart"],
            "2027-01-15T08:00:00Z"
        );
        assert_eq!(
            activity["durationSummary"]["extensions"]["windowEnd"],
            "2027-01-15T08:15:00Z"
        );
        assert_eq!(activity["targetInfo"], json!([]));
    }

    #[test]
    fn the_current_batch_comes_first_and_held_runs_say_what_they_wait_for() {
        let mut row = run(5);
        row.details.batches = vec!["b1".into(), "b2".into()];
        let hold = Hold {
            run_id: "failed-run".into(),
            window_number: 4,
        };
        let item = RunItem::new(&row, Some(&hold)).to_json();
        assert_eq!(
            item["activities"][0]["targetInfo"][0]["reference"]["ids"],
            json!(["b2", "b1"])
        );
        let status = &item["metrics"]["statusSummary"];
        assert_eq!(status["heldBy"], "failed-run");
        assert!(status["note"].as_str().unwrap().contains("window 4"), "{status}");
        let earlier = RunItem::new(&run(3), Some(&hold)).to_json();
        assert!(
            earlier["metrics"]["statusSummary"]["heldBy"].is_null(),
            "an earlier window is not held"
        );
        row.status = RunStatus::Success;
        assert!(RunItem::new(&row, Some(&hold)).to_json()["metrics"]["statusSummary"]["heldBy"].is_null());
    }
}
