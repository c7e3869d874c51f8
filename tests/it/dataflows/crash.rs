//! Exactly once across crashes, repeats and outages.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Lab, status};
use crate::common::delta;

const BIG_ROWS: i64 = 2_000_000;
/// A 2M-row table, and a view of it that pauses every 1000 rows so a read lasts long
/// enough to be interrupted.
const BIG: &str = "CREATE TABLE public.big (id bigint PRIMARY KEY, payload text NOT NULL);
    INSERT INTO public.big SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 2000000) g;
    ANALYZE public.big;
    CREATE FUNCTION slowly(i bigint) RETURNS bigint LANGUAGE plpgsql AS $$
      BEGIN IF i % 1000 = 0 THEN PERFORM pg_sleep(0.004); END IF; RETURN i; END $$;
    CREATE VIEW public.slow_big AS SELECT slowly(id) AS id, payload FROM public.big;";

/// Waits until the flow's first run is in progress and has read rows; returns it.
async fn running(lab: &Lab, flow: &str) -> Value {
    let started = Instant::now();
    loop {
        if let Some(run) = lab.runs(flow).await.into_iter().next() {
            let read = run["metrics"]["recordSummary"]["inputRecordCount"]
                .as_u64()
                .unwrap_or(0);
            if status(&run) == "inProgress" && read > 0 {
                return run;
            }
            assert_ne!(status(&run), "success", "the run ended before it could be interrupted");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never got going\n{}",
            lab.inlet.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn location(lab: &Lab, dataset: &str) -> String {
    let reply = lab
        .api
        .send(lab.api.request(
            reqwest::Method::GET,
            &format!("/data/foundation/catalog/dataSets/{dataset}"),
        ))
        .await;
    reply.body[dataset]["location"]
        .as_str()
        .unwrap()
        .trim_start_matches("file://")
        .to_string()
}

#[tokio::test]
async fn a_run_killed_mid_write_lands_every_row_exactly_once_and_a_repeat_writes_nothing() {
    let now = chrono::Utc::now().timestamp();
    let mut lab = Lab::start(now, BIG, "");
    let (source, target, dataset) = lab.connections("public.slow_big").await;
    let flow = lab
        .flow(
            &source,
            &target,
            json!([]),
            json!({"startTime": now.to_string(), "frequency": "once"}),
        )
        .await;
    running(&lab, &flow).await;
    lab.inlet.kill();
    lab.inlet.start_again();
    lab.api.base = lab.inlet.base.clone();

    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(240)).await;
    assert_eq!(status(&runs[0]), "success", "{:#}", runs[0]);
    let table = delta::read(&location(&lab, &dataset).await, false);
    assert_eq!(table["rows"], BIG_ROWS, "{table:#}");
    assert_eq!(table["sums"]["id"], BIG_ROWS * (BIG_ROWS + 1) / 2);
    assert_eq!(table["txns"][flow.as_str()], 1);

    // Force the same window to run again, as a worker would after losing the record of
    // its success: the lake already holds the window, so nothing new is written.
    let db = lab.inlet.data_dir().join("metadata.db");
    let reset = format!(
        "import sqlite3; c = sqlite3.connect('{}'); c.execute(\"UPDATE runs SET status = 'scheduled', due_at = 0 WHERE id = '{}'\"); c.commit()",
        db.display(),
        runs[0]["id"].as_str().unwrap()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &reset])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let started = Instant::now();
    loop {
        let run = lab.runs(&flow).await.remove(0);
        if status(&run) == "success" && run["metrics"]["statusSummary"]["note"].is_string() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the repeated run did not end: {run:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let again = delta::read(&location(&lab, &dataset).await, false);
    assert_eq!(
        again["version"], table["version"],
        "a repeated window made a new commit"
    );
    assert_eq!(again["rows"], BIG_ROWS);
}

#[tokio::test]
async fn a_source_that_vanishes_mid_run_fails_the_run_and_leaves_the_dataset_unchanged() {
    let now = chrono::Utc::now().timestamp();
    let lab = Lab::start(now, BIG, "run_attempts = 2\n");
    let (source, target, dataset) = lab.connections("public.slow_big").await;
    let flow = lab
        .flow(
            &source,
            &target,
            json!([]),
            json!({"startTime": now.to_string(), "frequency": "once"}),
        )
        .await;
    running(&lab, &flow).await;
    lab.pg.stop_now();

    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(120)).await;
    let run = &runs[0];
    assert_eq!(status(run), "failed", "{run:#}");
    let error = &run["metrics"]["statusSummary"]["errors"][0];
    let code = error["code"].as_str().unwrap();
    assert!(
        ["SOURCE_CONNECTION_REFUSED", "SOURCE_CONNECTION_LOST"].contains(&code),
        "{run:#}"
    );
    assert!(!error["message"].as_str().unwrap().is_empty());
    let location = location(&lab, &dataset).await;
    assert!(
        !std::path::Path::new(&location).join("_delta_log").exists(),
        "a failed run left a table behind"
    );
    let batch_id = run["activities"][0]["targetInfo"][0]["reference"]["ids"][0]
        .as_str()
        .unwrap();
    assert_eq!(lab.batch(batch_id).await["status"], "failed");
}
