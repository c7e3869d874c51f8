//! A run's record: its [`RunStatus`] and its [`RunDetails`] (metrics, errors, batches,
//! on-demand parameters), typed and serialised in one place. The store keeps the details
//! as JSON beside the columns the claim and the ordering rules need (status, window,
//! lease); the API item is built from both (`crate::api::run_item`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::schema_changes::{SchemaChange, SchemaChoice};

/// Where a run stands. Its text form is the platform's (`inProgress`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    /// Waiting: for its time, for the earlier windows of its flow, or for a retry.
    Scheduled,
    /// A worker holds it under a lease.
    InProgress,
    /// Its window landed in the dataset (or had landed already).
    Success,
    /// It ended without landing its window; later windows of the flow wait for it.
    Failed,
    /// Its flow was disabled or deleted before it started; enabling the flow again
    /// schedules it anew.
    Cancelled,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Scheduled,
        RunStatus::InProgress,
        RunStatus::Success,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Scheduled => "scheduled",
            RunStatus::InProgress => "inProgress",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Reads a stored status.
    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether the run has ended (it may still be re-run, or rescheduled if cancelled).
    pub fn has_ended(self) -> bool {
        matches!(self, RunStatus::Success | RunStatus::Failed | RunStatus::Cancelled)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified problem: `statusSummary.errors`, `warnings` and `lastError` entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunError {
    pub code: String,
    pub message: String,
}

/// What a run did and how it went, apart from the columns of its row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunDetails {
    pub metrics: RunMetrics,
    /// The batches its attempts made, oldest first; the last is the current one.
    pub batches: Vec<String>,
    /// The Delta table version its commit created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_version: Option<i64>,
    /// Rows skipped under partial ingestion, described.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_records: Vec<Value>,
    /// What `POST /runs` asked for, for an on-demand run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<OnDemandParams>,
    /// The failed run this one re-runs (`op=re-trigger`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    /// What a change data capture run read and merged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdc: Option<CdcSummary>,
    /// The source's schema changes the run met and what it did about them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schema_changes: Vec<SchemaChange>,
    /// The user's choice for the paused run this one re-runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_choice: Option<SchemaChoice>,
}

/// How a change data capture run took its rows: the initial (or a requested) snapshot,
/// or the changes since the previous run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CdcMode {
    #[default]
    Snapshot,
    Changes,
}

/// Inlet: what a change data capture run read from the source's log (`inletCdc`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct CdcSummary {
    pub mode: CdcMode,
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    pub truncates: u64,
    /// Source transactions read.
    pub transactions: u64,
    /// The log position the run read from (exclusive) and the one it landed.
    pub from_lsn: Option<String>,
    pub to_lsn: Option<String>,
    /// Bytes of log between the landed position and the source's position when the run read.
    pub lag_bytes: u64,
    /// The run read fewer changes than were waiting (`cdc_changes_per_run`); the next run
    /// goes on from where it stopped.
    pub more_waiting: bool,
}

/// The platform's run metrics, except `statusSummary.status`, which is the row's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct RunMetrics {
    pub duration_summary: DurationSummary,
    pub size_summary: SizeSummary,
    pub record_summary: RecordSummary,
    pub file_summary: FileSummary,
    pub status_summary: StatusSummary,
}

/// When the run started and ended (epoch milliseconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DurationSummary {
    #[serde(rename = "startedAtUTC")]
    pub started_at_utc: Option<i64>,
    #[serde(rename = "completedAtUTC")]
    pub completed_at_utc: Option<i64>,
}

/// Bytes received from the source and written to the lake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct SizeSummary {
    pub input_bytes: u64,
    pub output_bytes: u64,
}

/// Rows read (skipped ones included), written and skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct RecordSummary {
    pub input_record_count: u64,
    pub output_record_count: u64,
    pub failed_record_count: u64,
}

/// Parquet files written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FileSummary {
    pub output_file_count: u64,
}

/// Errors, warnings and notes (the status itself is the row's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct StatusSummary {
    pub errors: Vec<RunError>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RunError>,
    /// Attempts that failed transiently and were retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// The failure of the last attempt, while a retry waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<RunError>,
    /// A sentence on how the run ended, where its counts alone would mislead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The window and delta column of an on-demand run (`POST /runs`), epoch seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnDemandParams {
    pub start_time: i64,
    pub window_start_time: i64,
    pub window_end_time: i64,
    pub delta_column: StoredDeltaColumn,
}

/// A delta column as a run stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredDeltaColumn {
    pub name: String,
    pub timezone: String,
}

impl RunDetails {
    /// Reads stored details. Runs recorded before details were typed kept their API item
    /// instead; its metrics read the same, and its batch id is taken from its activity.
    pub fn from_stored(text: &str) -> Result<RunDetails, serde_json::Error> {
        let value: Value = serde_json::from_str(text)?;
        let legacy_batch = value
            .pointer("/activities/0/targetInfo/0/reference/ids/0")
            .and_then(Value::as_str)
            .map(str::to_string);
        let legacy_params = value
            .get("params")
            .is_some_and(|p| p.get("deltaColumn").is_some_and(Value::is_null));
        let mut value = value;
        if legacy_params && let Some(object) = value.as_object_mut() {
            // An old on-demand run without a delta column: it copied the whole table.
            object.remove("params");
        }
        let mut details: RunDetails = serde_json::from_value(value)?;
        if details.batches.is_empty()
            && let Some(batch) = legacy_batch
        {
            details.batches.push(batch);
        }
        Ok(details)
    }

    /// The details as stored.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("run details always serialise")
    }

    /// The batch of the current (or last) attempt.
    pub fn current_batch(&self) -> Option<&str> {
        self.batches.last().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_read_back_as_written() {
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), json!(status.as_str()));
        }
        assert_eq!(RunStatus::parse("running"), None);
        assert!(RunStatus::Cancelled.has_ended() && !RunStatus::InProgress.has_ended());
    }

    #[test]
    fn details_round_trip_and_keep_the_platforms_names() {
        let mut details = RunDetails::default();
        details.metrics.record_summary.output_record_count = 7;
        details.metrics.duration_summary.started_at_utc = Some(5);
        details.batches.push("b1".into());
        let stored = details.to_stored();
        let value: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(value["metrics"]["recordSummary"]["outputRecordCount"], 7);
        assert_eq!(value["metrics"]["durationSummary"]["startedAtUTC"], 5);
        assert_eq!(RunDetails::from_stored(&stored).unwrap(), details);
    }

    #[test]
    fn a_legacy_item_reads_as_details() {
        let legacy = json!({
            "metrics": {"recordSummary": {"inputRecordCount": 3, "outputRecordCount": 3, "failedRecordCount": 0},
                        "statusSummary": {"status": "success", "errors": [], "note": "n"}},
            "activities": [{"id": "copyActivity", "targetInfo": [{"type": "TargetConnection",
                "reference": {"type": "Batch", "ids": ["b9"]}}]}],
            "params": {"startTime": 1, "windowStartTime": 2, "windowEndTime": 3, "deltaColumn": null},
        });
        let details = RunDetails::from_stored(&legacy.to_string()).unwrap();
        assert_eq!(details.metrics.record_summary.input_record_count, 3);
        assert_eq!(details.metrics.status_summary.note.as_deref(), Some("n"));
        assert_eq!(details.batches, ["b9"]);
        assert_eq!(details.params, None);
    }
}
