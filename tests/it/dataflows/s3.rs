//! Dataflows with the lake on a real S3-compatible server (SeaweedFS): the tutorial path,
//! and several processes committing to one table at the same moment, round after round,
//! without losing a commit. (The chaos test on S3 is in `chaos.rs`.)

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Lab, ids, status};
use crate::common::pg::{PgOptions, PgServer};
use crate::common::s3::S3Server;
use crate::common::server::{Inlet, Options};

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600;

fn on_s3(s3: &S3Server, metadata: Option<String>) -> Options {
    Options {
        metadata_url: metadata,
        lake_root: Some(s3.root("lake")),
        env: s3.env(),
        ..Options::default()
    }
}

#[tokio::test]
async fn the_tutorial_path_lands_in_the_s3_lake() {
    let s3 = S3Server::start();
    let now = chrono::Utc::now().timestamp();
    let setup = "CREATE TABLE public.orders (id bigint PRIMARY KEY, city text, total numeric(12,2));
        INSERT INTO public.orders SELECT g, 'city-' || (g % 13), (g * 1.25)::numeric(12,2) FROM generate_series(1, 5000) g;";
    let lab = Lab::start_with(now, setup, "", on_s3(&s3, None));
    let (source, target, dataset) = lab.connections("public.orders").await;
    let once = json!({"startTime": (now + 2).to_string(), "frequency": "once"});
    let flow = lab.flow(&source, &target, json!([]), once).await;
    lab.set_clock(now + 2);
    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(90)).await;
    assert_eq!(status(&runs[0]), "success", "{:#}", runs[0]);
    assert_eq!(runs[0]["metrics"]["recordSummary"]["outputRecordCount"], 5000);

    let location = lab.dataset_location(&dataset).await;
    assert_eq!(
        location,
        format!("s3://lake/lake/{dataset}"),
        "the dataset's location is its S3 URL"
    );
    let table = lab.dataset_table(&dataset).await;
    assert_eq!(ids(&table, "id"), (1..=5000).collect::<Vec<_>>());
    let city: Vec<&str> = table["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["city"].as_str().unwrap())
        .collect();
    assert_eq!(city[12], "city-0", "row 13, read back from S3");
    assert_eq!(table["sums"]["id"], 5000 * 5001 / 2);
    assert!(!lab.inlet.logs().contains(s3.secret_key()), "no secret in the log");
}

/// Flows writing one dataset, one window each round, all due at the same instant: this
/// many commits race each round.
const FLOWS: usize = 4;
const ROUNDS: i64 = 8;
/// Rows per hour of the source table.
const HOURLY: i64 = 5_000;

/// Two processes with two workers each, four flows writing one dataset on S3: every round
/// the flow clock moves an hour and four windows start at once, so the processes commit
/// to the table at the same moment, round after round. Every commit lands, none is lost
/// or overwritten (each flow's rows are in the table exactly once), and the log's
/// versions are consecutive.
#[tokio::test]
async fn two_processes_committing_to_one_s3_table_at_the_same_moment_lose_no_commit() {
    let s3 = S3Server::start();
    let metadata = PgServer::start(PgOptions::default());
    metadata.create_database("meta");
    let options = on_s3(&s3, Some(metadata.admin_url("meta")));
    let setup = format!(
        "CREATE TABLE public.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
         INSERT INTO public.events SELECT g, to_timestamp({T0}) + (g - 1) * interval '{} microseconds'
           FROM generate_series(1, {}) g;",
        3_600_000_000 / HOURLY,
        HOURLY * ROUNDS
    );
    let config = "workers = 2\n";
    let mut lab = Lab::start_with(T0 - 60, &setup, config, options.clone());
    let (source, target, dataset) = lab.connections("public.events").await;
    let copy = json!([{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]);
    let hourly = json!({"startTime": T0, "frequency": "hour", "interval": 1});
    let mut flows = Vec::new();
    for _ in 0..FLOWS {
        flows.push(lab.flow(&source, &target, copy.clone(), hourly.clone()).await);
    }
    let other = Inlet::start_with(Options {
        clock_file: Some(lab.clock.clone()),
        config: Some(format!("{}{config}", super::QUICK)),
        data_dir: Some(lab.inlet.data_dir()),
        ..options
    });
    for round in 1..=ROUNDS {
        lab.set_clock(T0 + round * 3600);
        for flow in &flows {
            wait_for_successes(&lab, flow, round).await;
        }
    }

    let table = lab.dataset_table(&dataset).await;
    let commits = FLOWS as i64 * ROUNDS;
    let versions: Vec<i64> = serde_json::from_value(table["log_versions"].clone()).unwrap();
    assert_eq!(
        versions,
        (0..commits).collect::<Vec<_>>(),
        "every commit landed, consecutively"
    );
    assert_eq!(table["rows"], commits * HOURLY, "each flow's every window once");
    assert_eq!(table["distinct"]["id"], ROUNDS * HOURLY);
    assert_eq!(table["sums"]["id"], FLOWS as i64 * (1..=ROUNDS * HOURLY).sum::<i64>());
    for flow in &flows {
        assert_eq!(table["txns"][flow.as_str()], ROUNDS, "{table:#}");
    }
    let logs = format!("{}{}", lab.inlet.logs(), other.logs());
    let retried = logs.matches("another writer committed first").count();
    println!("{commits} commits by 2 processes in {ROUNDS} rounds; {retried} were retried after losing a race");
    assert!(retried > 0, "the commits never raced: the test proved nothing");
    lab.inlet.stop();
}

/// Waits until `flow` has `count` successful runs; fails on a failed one.
async fn wait_for_successes(lab: &Lab, flow: &str, count: i64) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let runs = lab.runs(flow).await;
        let ok = runs.iter().filter(|r| status(r) == "success").count() as i64;
        if ok >= count {
            return runs;
        }
        assert!(
            !runs.iter().any(|r| status(r) == "failed"),
            "a run failed: {runs:#?}\n{}",
            lab.inlet.logs()
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "window {count} of {flow} did not land: {runs:#?}\n{}",
            lab.inlet.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
