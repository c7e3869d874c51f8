//! Maintenance of datasets' tables under load: many small due windows land exactly once
//! while maintenance compacts, checkpoints and vacuums the table every second, with the
//! server SIGKILLed meanwhile; and vacuum keeps what versions within the retention need.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Lab, ids, status};
use crate::common::pg::{PgOptions, PgServer};
use crate::common::s3::S3Server;
use crate::common::server::{Inlet, Options};

/// 2025-01-01T00:00:00Z: windows are the quarter hours after it.
const T0: i64 = 1_735_689_600;
/// Due windows in the test (the 2,000 run as `bench/maintenance.py`: at the
/// debug build's catch-up speed they would take several minutes here).
const WINDOWS: i64 = 150;
const ROWS_PER_WINDOW: i64 = 100;

/// A table of `WINDOWS` quarter hours of 100 rows each (one every 9 s), none on a boundary
/// twice.
fn setup() -> String {
    format!(
        "CREATE TABLE public.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
         INSERT INTO public.events SELECT g, to_timestamp({T0}) + (g - 1) * interval '9 seconds'
           FROM generate_series(1, {}) g;",
        WINDOWS * ROWS_PER_WINDOW
    )
}

fn quarter_hours() -> (Value, Value) {
    (
        json!([{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at", "timezone": "UTC"}}}]),
        json!({"startTime": T0.to_string(), "frequency": "minute", "interval": "15"}),
    )
}

/// The run of the flow's window `window`, once recorded.
async fn window_run(lab: &Lab, flow: &str, window: i64) -> Option<Value> {
    let reply = lab
        .api
        .get(&format!(
            "/runs?property=flowId=={flow}&property=windowNumber=={window}"
        ))
        .await;
    reply.body["items"].as_array().and_then(|items| items.first().cloned())
}

async fn dataset_item(lab: &Lab, dataset: &str) -> Value {
    let reply = lab
        .api
        .send(
            lab.api
                .request(Method::GET, &format!("/data/foundation/catalog/dataSets/{dataset}")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body[dataset].clone()
}

async fn maintain(lab: &Lab, dataset: &str, op: &str) -> (StatusCode, Value) {
    let reply = lab
        .api
        .send(lab.api.request(
            Method::POST,
            &format!("/data/foundation/catalog/dataSets/{dataset}/action?op={op}"),
        ))
        .await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn many_small_windows_land_once_while_maintenance_runs_and_the_server_is_killed() {
    let metadata = PgServer::start(PgOptions::default());
    metadata.create_database("meta");
    let options = Options {
        metadata_url: Some(metadata.admin_url("meta")),
        ..Options::default()
    };
    let (lab, dataset) = catch_up(options, 1, WINDOWS).await;

    // A pass holding the dataset is waited for: another holder's live lease answers
    // 1408-409 once the wait (the 3 s run lease) is over; a holder that ends while the
    // request waits lets it run.
    let hold = format!(
        "INSERT INTO dataset_maintenance (dataset_id, holder, expires_at) VALUES ('{dataset}', 'elsewhere', 9000000000000000)
         ON CONFLICT (dataset_id) DO UPDATE SET holder = 'elsewhere', expires_at = 9000000000000000"
    );
    metadata.psql("meta", &hold);
    let (code, body) = maintain(&lab, &dataset, "maintain").await;
    assert_eq!(code, StatusCode::CONFLICT, "{body:#}");
    assert!(body.to_string().contains("1408"), "{body}");
    assert!(body.to_string().contains("try again later"), "{body}");
    let (psql, socket) = (metadata.psql_path(), metadata.socket());
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        let sql = "UPDATE dataset_maintenance SET holder = NULL, expires_at = 0";
        crate::common::pg::psql_at(&psql, (&socket.0, socket.1), "meta", sql);
    });
    let (code, body) = maintain(&lab, &dataset, "maintain").await;
    release.join().unwrap();
    assert_eq!(code, StatusCode::OK, "{body:#}");
}

#[tokio::test]
async fn two_processes_on_an_s3_lake_catch_up_while_maintaining_it() {
    let metadata = PgServer::start(PgOptions::default());
    metadata.create_database("meta");
    let s3 = S3Server::start();
    let options = Options {
        metadata_url: Some(metadata.admin_url("meta")),
        lake_root: Some(s3.root("lake")),
        env: s3.env(),
        ..Options::default()
    };
    let _ = catch_up(options, 2, WINDOWS / 2).await;
}

/// `windows` due windows drained by `processes` servers on `options`' stores, each of
/// them maintaining the table every second; one server is SIGKILLed now and then.
async fn catch_up(options: Options, processes: usize, windows: i64) -> (Lab, String) {
    // Three windows to a commit at most: they land together (catch-up) and still leave
    // enough small files, commit after commit, for maintenance to compact while they land.
    let config = "workers = 2\nrun_attempts = 1000\nmaintenance_interval = \"1s\"\n\
                  maintenance_min_small_files = 10\nmaintenance_checkpoint_after = 20\ncatch_up_windows = 3\n";
    let mut lab = Lab::start_with(T0 - 60, &setup(), config, options.clone());
    let (source, target, dataset) = lab.connections("public.events").await;
    let (transformations, schedule) = quarter_hours();
    let flow = lab.flow(&source, &target, transformations, schedule).await;
    let mut others: Vec<Inlet> = (1..processes)
        .map(|_| {
            Inlet::start_with(Options {
                clock_file: Some(lab.clock.clone()),
                config: Some(format!("{}{config}", super::QUICK)),
                data_dir: Some(lab.inlet.data_dir()),
                ..options.clone()
            })
        })
        .collect();
    lab.set_clock(T0 + windows * 900 + 60);

    let started = Instant::now();
    let mut kills = 0;
    let mut compacted_before_end = false;
    loop {
        if let Some(run) = window_run(&lab, &flow, windows).await
            && status(&run) == "success"
        {
            break;
        }
        let item = dataset_item(&lab, &dataset).await;
        compacted_before_end |= !item["inletHealth"]["lastMaintenance"]["compaction"].is_null();
        // Kill a server at arbitrary moments while maintenance runs every second.
        if kills < 3 && started.elapsed() > Duration::from_secs(8 + 8 * kills) {
            match others.get_mut(kills as usize % processes) {
                Some(other) if kills % 2 == 1 => {
                    other.kill();
                    other.start_again();
                }
                _ => {
                    lab.inlet.kill();
                    lab.inlet.start_again();
                    lab.api.base = lab.inlet.base.clone();
                }
            }
            kills += 1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the windows did not all land\n{}",
            lab.inlet.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(compacted_before_end, "maintenance compacted while windows landed");

    // The background pass leaves fewer small files than its threshold, plus compacted ones.
    let item = dataset_item(&lab, &dataset).await;
    let health = &item["inletHealth"];
    assert!(health["files"].as_u64().unwrap() <= 30, "{health:#}");

    let table = lab.dataset_table(&dataset).await;
    let all: Vec<i64> = (1..=windows * ROWS_PER_WINDOW).collect();
    assert_eq!(ids(&table, "id"), all, "every row exactly once");
    assert_eq!(table["txns"][flow.as_str()], windows);
    let operations: Vec<&str> = table["commits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["operation"].as_str())
        .collect();
    assert!(operations.contains(&"OPTIMIZE"), "{operations:?}");

    // On demand: everything small becomes one file, and a checkpoint is written now.
    let (code, body) = maintain(&lab, &dataset, "Maintain").await;
    assert_eq!(code, StatusCode::OK, "{body:#}");
    let health = &body["inletHealth"];
    assert_eq!(health["files"], 1, "{body:#}");
    assert_eq!(health["logEntriesSinceCheckpoint"], 0, "{body:#}");
    assert_eq!(health["lastCheckpoint"], health["version"], "{body:#}");
    let again = lab.dataset_table(&dataset).await;
    assert_eq!(ids(&again, "id"), all, "compaction changed no row");
    assert_eq!(again["files"], 1);
    let shown = dataset_item(&lab, &dataset).await;
    assert_eq!(shown["inletHealth"]["files"], 1);
    assert!(shown["inletHealth"]["lastMaintenance"]["at"].is_i64(), "{shown:#}");

    let text = reqwest::get(format!("{}/metrics", lab.inlet.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(&format!("inlet_dataset_files{{dataset=\"{dataset}\"}}")),
        "{text}"
    );

    let (code, body) = maintain(&lab, &dataset, "optimize").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("`op` must be maintain"), "{body}");
    (lab, dataset)
}

/// The ids of `version` of the table at `location`, read by the `deltalake` package; the
/// reader's error when that version cannot be read.
fn ids_at(location: &str, version: u64) -> Result<Vec<i64>, String> {
    // os._exit: the reader's runtime threads sometimes abort the interpreter's own exit
    // ("terminate called without an active exception") after the answer is printed.
    let script = format!(
        "import os, sys\n\
         from deltalake import DeltaTable\n\
         t = DeltaTable({location:?}, version={version})\n\
         print(sorted(t.to_pyarrow_table().column('id').to_pylist()))\n\
         sys.stdout.flush()\n\
         os._exit(0)"
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap())
}

#[tokio::test]
async fn vacuum_deletes_only_files_no_version_within_the_retention_needs() {
    const SETUP: &str = "CREATE TABLE public.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
        INSERT INTO public.events SELECT g, to_timestamp(1735689600) + (g - 1) * interval '9 seconds'
          FROM generate_series(1, 600) g;";
    // A version per window, so that old versions hold files of their own.
    let config = "maintenance = false\nmaintenance_retention = \"4s\"\ncatch_up_windows = 1\n";
    let lab = Lab::start(T0 - 60, SETUP, config);
    let (source, target, dataset) = lab.connections("public.events").await;
    let (transformations, schedule) = quarter_hours();
    let flow = lab.flow(&source, &target, transformations, schedule).await;
    lab.set_clock(T0 + 6 * 900 + 60);
    let runs = lab.ended_runs(&flow, 6, Duration::from_secs(120)).await;
    assert!(runs.iter().all(|r| status(r) == "success"), "{runs:#?}");
    let location = lab.dataset_location(&dataset).await;
    let before = dataset_item(&lab, &dataset).await["inletHealth"].clone();
    assert_eq!(
        (before["files"].as_u64(), before["version"].as_u64()),
        (Some(6), Some(5)),
        "{before:#}"
    );
    assert!(
        before["lastMaintenance"].is_null(),
        "the background pass is off: {before:#}"
    );

    let (code, body) = maintain(&lab, &dataset, "maintain").await;
    assert_eq!(code, StatusCode::OK, "{body:#}");
    assert_eq!(body["maintenance"]["compaction"]["filesRemoved"], 6, "{body:#}");
    assert_eq!(body["maintenance"]["filesVacuumed"], 0, "{body:#}");
    let all: Vec<i64> = (1..=600).collect();
    assert_eq!(
        ids_at(&location, 5),
        Ok(all.clone()),
        "a version within the retention reads"
    );
    assert_eq!(ids_at(&location, 2), Ok((1..=300).collect()));

    tokio::time::sleep(Duration::from_secs(5)).await;
    let (code, body) = maintain(&lab, &dataset, "maintain").await;
    assert_eq!(code, StatusCode::OK, "{body:#}");
    assert_eq!(body["maintenance"]["filesVacuumed"], 6, "{body:#}");
    let table = lab.dataset_table(&dataset).await;
    assert_eq!(ids(&table, "id"), all);
    let gone = ids_at(&location, 5).expect_err("the files of version 5 are past the retention");
    assert!(
        gone.to_lowercase().contains("not found") || gone.contains("No such file"),
        "{gone}"
    );
}
