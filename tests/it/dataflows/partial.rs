//! Partial ingestion end to end (`options.partialIngestionPercent`): rows holding values
//! the dataset cannot hold exactly are skipped, counted and named by the run while their
//! share stays within the flow's limit; above it the run fails and nothing is committed;
//! without the option the first such value fails the run, naming table, column and value.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::{FLOW_SPEC, Lab, ids, status};
use crate::common::delta;

/// 100 orders; order 40's total is NaN and order 77 was placed at `infinity`.
const ORDERS: &str = "CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric(12,2), placed date);
  INSERT INTO public.orders SELECT g, g * 1.25, '2024-01-01'::date + g FROM generate_series(1, 100) g;
  UPDATE public.orders SET total = 'NaN' WHERE id = 40;
  UPDATE public.orders SET placed = 'infinity' WHERE id = 77;";

/// A `once` flow due at the lab's start with `options`; returns its id.
async fn flow(lab: &Lab, source: &str, target: &str, options: Value) -> String {
    let now = lab_start(lab);
    let mut body = json!({
        "name": "orders to lake", "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "transformations": [], "scheduleParams": {"startTime": now.to_string(), "frequency": "once"}});
    if !options.is_null() {
        body["options"] = options;
    }
    lab.created(lab.api.post("/flows", &body).await)
}

/// The flow clock's time, which the tests leave where the lab started it.
fn lab_start(lab: &Lab) -> i64 {
    std::fs::read_to_string(&lab.clock).unwrap().trim().parse().unwrap()
}

/// The flow's one run, once it ended.
async fn ended_run(lab: &Lab, flow: &str) -> Value {
    lab.ended_runs(flow, 1, Duration::from_secs(60)).await.remove(0)
}

/// The dataset's table directory.
async fn location(lab: &Lab, dataset: &str) -> String {
    let path = format!("/data/foundation/catalog/dataSets/{dataset}");
    let reply = lab.api.send(lab.api.request(reqwest::Method::GET, &path)).await;
    let location = reply.body[dataset]["location"].as_str().unwrap();
    location.trim_start_matches("file://").to_string()
}

/// The failedRecords of a run, by the `id` of their row's key: (column, value, message).
fn failed_records(run: &Value) -> Vec<(String, String, String, String)> {
    let mut found: Vec<_> = run["activities"][0]["failedRecords"]
        .as_array()
        .unwrap_or_else(|| panic!("no failedRecords: {run:#}"))
        .iter()
        .map(|record| {
            assert_eq!(record["table"], "public.orders", "{record:#}");
            let text = |key: &str| record[key].as_str().unwrap().to_string();
            let id = record["row"]["key"]["id"].as_str().unwrap().to_string();
            (id, text("column"), text("value"), text("message"))
        })
        .collect();
    found.sort();
    found
}

fn expected_records() -> Vec<(String, String, String, String)> {
    vec![
        (
            "40".into(),
            "total".into(),
            "NaN".into(),
            "public.orders.total holds NaN, which a decimal column cannot hold".into(),
        ),
        (
            "77".into(),
            "placed".into(),
            "infinity".into(),
            "public.orders.placed holds infinity, which a date column cannot hold".into(),
        ),
    ]
}

#[tokio::test]
async fn within_the_limit_the_bad_rows_are_skipped_counted_and_named() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, "");
    let (source, target, dataset) = lab.connections("public.orders").await;
    let flow = flow(&lab, &source, &target, json!({"partialIngestionPercent": 10})).await;

    let run = ended_run(&lab, &flow).await;
    assert_eq!(status(&run), "success", "{run:#}");
    let records = &run["metrics"]["recordSummary"];
    assert_eq!(
        (
            &records["inputRecordCount"],
            &records["outputRecordCount"],
            &records["failedRecordCount"]
        ),
        (&json!(100), &json!(98), &json!(2)),
        "{run:#}"
    );
    assert_eq!(failed_records(&run), expected_records());
    let warning = &run["metrics"]["statusSummary"]["warnings"][0];
    assert_eq!(warning["code"], "ROWS_SKIPPED", "{run:#}");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .starts_with("2 of 100 rows read (2%)"),
        "{warning}"
    );
    assert_eq!(run["metrics"]["statusSummary"]["errors"], json!([]));

    let table = lab.dataset_table(&dataset).await;
    let expected: Vec<i64> = (1..=100).filter(|id| ![40, 77].contains(id)).collect();
    assert_eq!(ids(&table, "id"), expected);
    for row in table["data"].as_array().unwrap() {
        let id = row["id"].as_i64().unwrap();
        assert_eq!(row["total"], format!("{:.2}", id as f64 * 1.25), "{row}");
        assert!(!row["placed"].is_null(), "{row}");
    }
}

#[tokio::test]
async fn over_the_limit_the_run_fails_and_commits_nothing() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, "");
    let (source, target, dataset) = lab.connections("public.orders").await;
    let strict = flow(&lab, &source, &target, json!({"partialIngestionPercent": "1"})).await;

    let run = ended_run(&lab, &strict).await;
    assert_eq!(status(&run), "failed", "{run:#}");
    let error = &run["metrics"]["statusSummary"]["errors"][0];
    assert_eq!(error["code"], "PARTIAL_INGESTION_LIMIT", "{run:#}");
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("2 of 100 rows read (2%)"), "{message}");
    assert!(message.contains("partialIngestionPercent of 1%"), "{message}");
    assert_eq!(run["metrics"]["recordSummary"]["failedRecordCount"], 2);
    assert_eq!(run["metrics"]["recordSummary"]["outputRecordCount"], 0);
    assert_eq!(failed_records(&run), expected_records());
    let location = location(&lab, &dataset).await;
    assert!(
        !Path::new(&location).join("_delta_log").exists(),
        "a failed run made a table"
    );
    let batch = run["activities"][0]["targetInfo"][0]["reference"]["ids"][0]
        .as_str()
        .unwrap();
    assert_eq!(lab.batch(batch).await["status"], "failed");

    // Into a table that exists, a run over the limit makes no commit either.
    let lenient = flow(&lab, &source, &target, json!({"partialIngestionPercent": 2})).await;
    assert_eq!(status(&ended_run(&lab, &lenient).await), "success");
    let before = delta::read(&location, false);
    let strict_again = flow(&lab, &source, &target, json!({"partialIngestionPercent": 1.99})).await;
    let run = ended_run(&lab, &strict_again).await;
    assert_eq!(status(&run), "failed", "{run:#}");
    assert_eq!(
        run["metrics"]["statusSummary"]["errors"][0]["code"],
        "PARTIAL_INGESTION_LIMIT"
    );
    let after = delta::read(&location, false);
    assert_eq!(after["version"], before["version"], "a run over the limit committed");
    assert_eq!(after["rows"], 98);
    assert!(after["txns"].get(strict_again.as_str()).is_none(), "{after:#}");
}

#[tokio::test]
async fn without_partial_ingestion_a_bad_value_fails_the_run_naming_it() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, "");
    let (source, target, dataset) = lab.connections("public.orders").await;
    let flow = flow(&lab, &source, &target, Value::Null).await;

    let run = ended_run(&lab, &flow).await;
    assert_eq!(status(&run), "failed", "{run:#}");
    let error = &run["metrics"]["statusSummary"]["errors"][0];
    assert_eq!(error["code"], "SOURCE_UNSUPPORTED", "{run:#}");
    let message = error["message"].as_str().unwrap();
    let named = expected_records().iter().any(|(_, _, _, expected)| message == expected);
    assert!(named, "{message}");
    assert_eq!(run["metrics"]["recordSummary"]["failedRecordCount"], 0);
    assert!(run["activities"][0].get("failedRecords").is_none(), "{run:#}");
    let location = location(&lab, &dataset).await;
    assert!(
        !Path::new(&location).join("_delta_log").exists(),
        "a failed run made a table"
    );
}
