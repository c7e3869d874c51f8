//! Runs as records: a new run's row and initial document (the scheduler and
//! `POST /runs` both make runs with [`new_run`]), and the API item of a stored run.
//!
//! The row's columns (status, window, times) are the truth; the document carries what
//! only the API shows (metrics, activities, errors) and is merged under them.

use serde_json::{Value, json};

use super::model::DeltaColumn;
use super::schedule::{Window, instant};
use crate::identity::Tenant;
use crate::store::{RunRow, new_etag};

/// A run's `status` before a worker claims it.
pub const SCHEDULED: &str = "scheduled";

/// A `scheduled` run of `flow_id` for `window`, which may start at flow-clock second
/// `due_at`; `now_ms` (wall-clock epoch milliseconds) stamps its creation.
pub fn new_run(tenant: &Tenant, flow_id: &str, window: &Window, due_at: i64, now_ms: i64) -> RunRow {
    RunRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.clone(),
        flow_id: flow_id.to_string(),
        window_number: window.number,
        window_start: window.start,
        window_end: window.end,
        status: SCHEDULED.to_string(),
        due_at,
        attempts: 0,
        lease_owner: None,
        lease_expires_at: None,
        created_at: now_ms,
        updated_at: now_ms,
        etag: new_etag(),
        doc: initial_doc(window),
    }
}

/// The document of a run that has not started: every count zero, no times yet.
fn initial_doc(window: &Window) -> Value {
    let bound = |seconds: Option<i64>| seconds.map(instant).map_or(Value::Null, Value::String);
    json!({
        "metrics": {
            "durationSummary": {"startedAtUTC": null, "completedAtUTC": null},
            "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
            "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
            "fileSummary": {"outputFileCount": 0},
            "statusSummary": {"status": SCHEDULED, "errors": []},
        },
        "activities": [{
            "id": "copyActivity",
            "name": "Copy Activity",
            "activityType": "copy",
            "durationSummary": {
                "startedAtUTC": null,
                "completedAtUTC": null,
                "extensions": {"windowStart": bound(window.start), "windowEnd": bound(window.end)},
            },
            "targetInfo": [],
        }],
    })
}

/// The run as the API shows it: its document with the row's fields laid over it.
pub fn run_item(row: &RunRow) -> Value {
    let mut item = match &row.doc {
        Value::Object(_) => row.doc.clone(),
        _ => json!({}),
    };
    item["id"] = json!(row.id);
    item["flowId"] = json!(row.flow_id);
    item["etag"] = json!(row.etag);
    item["createdAt"] = json!(row.created_at);
    item["updatedAt"] = json!(row.updated_at);
    if !item["metrics"].is_object() {
        item["metrics"] = json!({});
    }
    if !item["metrics"]["statusSummary"].is_object() {
        item["metrics"]["statusSummary"] = json!({"errors": []});
    }
    item["metrics"]["statusSummary"]["status"] = json!(row.status);
    item
}

/// The delta column an on-demand run was started with (`params.deltaColumn` of
/// `POST /runs`), which overrides the flow's for that run.
pub fn run_delta_column(row: &RunRow) -> Option<DeltaColumn> {
    DeltaColumn::parse(&row.doc["params"]["deltaColumn"], "/params/deltaColumn")
        .ok()
        .flatten()
}

/// `lastRunDetails` of a flow: its newest run (by creation, then window), if any.
pub fn last_run_details<'a>(runs: impl Iterator<Item = &'a RunRow>) -> Option<Value> {
    let newest = runs.max_by_key(|run| (run.created_at, run.window_number))?;
    let summary = &newest.doc["metrics"]["durationSummary"];
    Some(json!({
        "id": newest.id,
        "state": newest.status,
        "startedAtUTC": summary["startedAtUTC"],
        "completedAtUTC": summary["completedAtUTC"],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        Tenant {
            org: "O@AdobeOrg".into(),
            sandbox: "prod".into(),
        }
    }

    #[test]
    fn a_new_run_is_scheduled_with_zero_metrics_and_its_window() {
        let window = Window {
            number: 3,
            start: Some(1_800_000_000),
            end: Some(1_800_000_900),
        };
        let run = new_run(&tenant(), "flow-1", &window, 1_800_000_960, 42);
        assert_eq!(
            (run.status.as_str(), run.window_number, run.due_at),
            ("scheduled", 3, 1_800_000_960)
        );
        let item = run_item(&run);
        assert_eq!(item["flowId"], "flow-1");
        assert_eq!(item["createdAt"], 42);
        assert_eq!(item["metrics"]["recordSummary"]["inputRecordCount"], 0);
        assert_eq!(
            item["metrics"]["statusSummary"],
            json!({"status": "scheduled", "errors": []})
        );
        let extensions = &item["activities"][0]["durationSummary"]["extensions"];
        assert_eq!(extensions["windowStart"], "2027-01-15T08:00:00Z");
        assert_eq!(extensions["windowEnd"], "2027-01-15T08:15:00Z");
    }

    #[test]
    fn the_row_status_wins_over_the_document() {
        let window = Window {
            number: 1,
            start: None,
            end: None,
        };
        let mut run = new_run(&tenant(), "f", &window, 0, 1);
        run.status = "success".into();
        assert_eq!(run_item(&run)["metrics"]["statusSummary"]["status"], "success");
        assert_eq!(
            run_item(&run)["activities"][0]["durationSummary"]["extensions"]["windowStart"],
            Value::Null
        );
        let mut later = new_run(&tenant(), "f", &window, 0, 2);
        later.doc["metrics"]["durationSummary"]["startedAtUTC"] = json!(5);
        let details = last_run_details([&run, &later].into_iter()).unwrap();
        assert_eq!(details["id"], later.id.as_str());
        assert_eq!(details["startedAtUTC"], 5);
        assert!(last_run_details(std::iter::empty()).is_none());
    }
}
