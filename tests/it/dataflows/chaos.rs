//! Chaos: a flow with thirteen windows due at once over a million rows, while its Inlet
//! processes are killed with SIGKILL at random moments and started again. Afterwards every
//! source row is in the dataset exactly once, every window has exactly one successful
//! run, and no batch is left `processing`. Once with two processes on a PostgreSQL
//! metadata store, once with the same and the lake on an S3 server, once with one process
//! on SQLite and two workers.
//!
//! The kills follow a seeded random sequence; the seed is printed, and
//! `INLET_CHAOS_SEED=<seed>` repeats it.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Lab, status};
use crate::common::delta;
use crate::common::pg::{PgOptions, PgServer};
use crate::common::s3::S3Server;
use crate::common::server::{Inlet, Options};

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600;
/// The backfill window and twelve hourly ones.
const WINDOWS: i64 = 13;
const KILLS: usize = 20;
/// A million rows spread evenly over the 13 hours from `T0 - 1h`, and one more row
/// exactly on each window boundary; `h` is a checksum column.
const SETUP: &str = "CREATE TABLE public.events (id bigint PRIMARY KEY, h bigint NOT NULL, payload text NOT NULL,
        updated_at timestamptz NOT NULL);
    INSERT INTO public.events SELECT g, (g * 2654435761) % 1000003, md5(g::text),
        to_timestamp(1735689600 - 3600) + (g - 1) * interval '46.8 milliseconds' FROM generate_series(1, 1000000) g;
    INSERT INTO public.events SELECT 2000000 + k, k, 'boundary', to_timestamp(1735689600 + k * 3600)
        FROM generate_series(0, 11) k;
    ANALYZE public.events;";
const ROWS: i64 = 1_000_012;
/// Settings of every process: attempts enough that the kills never abandon a run (that
/// rule has its own test), and quick leases (the tests' default, 3 s).
const CONFIG: &str = "workers = 2\nrun_attempts = 1000\n";

#[tokio::test]
async fn two_processes_on_postgres_killed_at_random_land_every_window_exactly_once() {
    let metadata = PgServer::start(PgOptions::default());
    metadata.create_database("meta");
    let options = Options {
        metadata_url: Some(metadata.admin_url("meta")),
        ..Options::default()
    };
    chaos(options, 2).await;
}

#[tokio::test]
async fn two_processes_with_the_lake_on_s3_killed_at_random_land_every_window_exactly_once() {
    let metadata = PgServer::start(PgOptions::default());
    metadata.create_database("meta");
    let s3 = S3Server::start();
    let options = Options {
        metadata_url: Some(metadata.admin_url("meta")),
        lake_root: Some(s3.root("lake")),
        env: s3.env(),
        ..Options::default()
    };
    chaos(options, 2).await;
}

#[tokio::test]
async fn one_process_on_sqlite_killed_at_random_lands_every_window_exactly_once() {
    chaos(Options::default(), 1).await;
}

async fn chaos(options: Options, processes: usize) {
    let mut lab = Lab::start_with(T0 - 60, SETUP, CONFIG, options.clone());
    let (source, target, dataset) = lab.connections("public.events").await;
    let copy = json!([{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]);
    let schedule = json!({"startTime": T0, "frequency": "hour", "interval": 1, "backfill": true});
    let flow = lab.flow(&source, &target, copy, schedule).await;
    let mut others: Vec<Inlet> = (1..processes)
        .map(|_| {
            Inlet::start_with(Options {
                clock_file: Some(lab.clock.clone()),
                config: Some(format!("{}{CONFIG}", super::QUICK)),
                data_dir: Some(lab.inlet.data_dir()),
                ..options.clone()
            })
        })
        .collect();

    let seed: u64 = std::env::var("INLET_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("chaos seed {seed} (INLET_CHAOS_SEED={seed} repeats it), {processes} process(es)");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    lab.set_clock(T0 + 12 * 3600);
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..2500))).await;
        let victim = rng.gen_range(0..processes);
        let inlet = if victim == 0 {
            &mut lab.inlet
        } else {
            &mut others[victim - 1]
        };
        inlet.kill();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..500))).await;
        inlet.start_again();
    }
    let chaos_time = started.elapsed().as_secs_f64();
    lab.api.base = lab.inlet.base.clone();
    let landed_during = successes(&lab.runs(&flow).await);
    let runs = wait_for_every_window(&lab, &flow).await;
    println!(
        "{KILLS} kills over {chaos_time:.1} s, {landed_during} of {WINDOWS} windows landed meanwhile; all landed \
         after {:.1} s; {} runs, {} batches",
        started.elapsed().as_secs_f64(),
        runs.len(),
        runs.iter()
            .map(|r| r["activities"][0]["targetInfo"][0]["reference"]["ids"]
                .as_array()
                .map_or(0, Vec::len))
            .sum::<usize>()
    );

    for window in 1..=WINDOWS {
        let ok = runs
            .iter()
            .filter(|r| r["windowNumber"] == window && status(r) == "success")
            .count();
        assert_eq!(ok, 1, "window {window}: {runs:#?}");
    }
    let location = lab.dataset_location(&dataset).await;
    let table = delta::read_with(&location, false, &lab.lake_env);
    let sums = lab.pg.psql(
        "shop",
        "SELECT count(*) || ' ' || sum(id) || ' ' || sum(h) FROM public.events",
    );
    let expected: Vec<i64> = sums.split_whitespace().map(|n| n.parse().unwrap()).collect();
    assert_eq!(table["rows"], expected[0], "{table:#}");
    assert_eq!(table["rows"], ROWS);
    assert_eq!(table["distinct"]["id"], ROWS, "no row twice");
    assert_eq!(table["sums"]["id"], expected[1]);
    assert_eq!(table["sums"]["h"], expected[2]);
    assert_eq!(table["txns"][flow.as_str()], WINDOWS);
    // Windows due together land together (catch-up): the commits are consecutive, and
    // the windows they name (`inletWindows`, else one each) add up to every window once.
    let versions: Vec<i64> = serde_json::from_value(table["log_versions"].clone()).unwrap();
    let commits = table["commits"].as_array().unwrap();
    assert_eq!(
        versions,
        (0..commits.len() as i64).collect::<Vec<_>>(),
        "consecutive commits"
    );
    let windows: i64 = commits
        .iter()
        .map(
            |c| match (c["windows"]["first"].as_i64(), c["windows"]["last"].as_i64()) {
                (Some(first), Some(last)) => last - first + 1,
                _ => 1,
            },
        )
        .sum();
    assert_eq!(windows, WINDOWS, "each window in one commit: {commits:#?}");
    let processing = lab
        .api
        .send(lab.api.request(
            Method::GET,
            &format!("/data/foundation/catalog/batches?dataSet={dataset}&status=processing"),
        ))
        .await;
    assert_eq!(processing.body, json!({}), "no batch stays processing");
}

fn successes(runs: &[Value]) -> usize {
    runs.iter().filter(|r| status(r) == "success").count()
}

async fn wait_for_every_window(lab: &Lab, flow: &str) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let runs = lab.runs(flow).await;
        if successes(&runs) as i64 == WINDOWS {
            return runs;
        }
        assert!(
            !runs.iter().any(|r| status(r) == "failed"),
            "a run failed: {runs:#?}\n{}",
            lab.inlet.logs()
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the windows did not all land: {runs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
