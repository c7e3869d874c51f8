//! Change data capture against a real PostgreSQL started with `wal_level = logical`: the
//! dataset mirrors the table (every column of every row, by key) after inserts, updates
//! that leave a TOASTed value unchanged, deletes, a key change, a new column and a
//! truncate; while a writer runs and `inlet serve` is killed with SIGKILL; the slot is
//! dropped with its flow; what cannot be captured is refused at create with a 400; and a
//! delta column flow with `mergeByKey` keeps one version of each row.

mod schema;
mod traps;

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Lab, status};
use crate::common::delta;
use crate::common::server::Options;

/// 2025-01-01T00:00:00Z.
pub const T0: i64 = 1_735_689_600;
pub const PERIOD: i64 = 900;
/// The source's settings for logical decoding.
pub fn logical() -> Vec<(String, String)> {
    [
        ("wal_level", "logical"),
        ("max_replication_slots", "10"),
        ("max_wal_senders", "10"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What the reader needs to capture a table: the replication right, creating publications,
/// and owning the table (PostgreSQL lets only the owner publish it).
pub const GRANTS: &str = "ALTER ROLE reader REPLICATION; GRANT CREATE ON DATABASE shop TO reader;";

/// `items`: a key, a counter every update increments, a text that is TOASTed (stored out
/// of line, uncompressed) for every tenth row, and a short note.
const ITEMS: &str =
    "CREATE TABLE public.items (id bigint PRIMARY KEY, n bigint NOT NULL, counter int NOT NULL DEFAULT 0,
        doc text, note text);
    ALTER TABLE public.items ALTER COLUMN doc SET STORAGE EXTERNAL;
    INSERT INTO public.items SELECT g, g * 7, 0,
        CASE WHEN g % 10 = 0 THEN repeat(md5(g::text), 100) ELSE 'short ' || g END, 'note ' || g
        FROM generate_series(1, 100000) g;
    ALTER TABLE public.items OWNER TO reader;";

/// Starts a lab on a logical-decoding source set up with `sql` (after [`GRANTS`]).
pub fn cdc_lab(sql: &str, config: &str) -> Lab {
    Lab::start_on(
        logical(),
        T0 - 60,
        &format!("{GRANTS}{sql}"),
        config,
        Options::default(),
    )
}

/// A change data capture flow on `table` every 15 minutes from `T0`; (flow, dataset).
pub async fn cdc_flow(lab: &Lab, table: &str) -> (String, String) {
    let (source, target, dataset) = lab
        .connections_with(json!({"tableName": table, "cdcEnabled": true}))
        .await;
    let schedule = json!({"startTime": T0, "frequency": "minute", "interval": 15});
    let flow = lab.flow(&source, &target, json!([]), schedule).await;
    (flow, dataset)
}

/// Makes window `k` due and waits for `k` runs of the flow to end; the last run.
pub async fn run_window(lab: &Lab, flow: &str, k: i64) -> Value {
    lab.set_clock(T0 + k * PERIOD + 1);
    let runs = lab.ended_runs(flow, k as usize, Duration::from_secs(120)).await;
    runs.last().unwrap().clone()
}

/// The source's rows of `columns` of `table` as JSON objects, by key `id`.
pub fn source_table(lab: &Lab, table: &str, columns: &str) -> Vec<Value> {
    let sql = format!("SELECT coalesce(json_agg(t ORDER BY id), '[]') FROM (SELECT {columns} FROM {table}) t");
    serde_json::from_str::<Value>(&lab.pg.psql("shop", &sql))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The dataset's rows as the independent reader sees them, by key `id`.
pub async fn dataset_rows(lab: &Lab, dataset: &str) -> Vec<Value> {
    let table = lab.dataset_table(dataset).await;
    let mut rows = table["data"].as_array().cloned().unwrap_or_default();
    rows.sort_by_key(|row| row["id"].as_i64().unwrap());
    rows
}

/// Asserts the dataset equals the source table, every column of every row.
pub async fn assert_mirrors(lab: &Lab, dataset: &str, table: &str, columns: &str) {
    let source = source_table(lab, table, columns);
    let rows = dataset_rows(lab, dataset).await;
    assert_eq!(rows.len(), source.len(), "row counts (dataset, source)");
    for (got, want) in rows.iter().zip(&source) {
        assert_eq!(got, want, "dataset row (left) differs from the source row (right)");
    }
}

/// A writer's random transaction on `items`: updates that leave `doc` as it is (most of
/// them on rows whose `doc` is TOASTed), a few that change it, inserts and deletes.
fn writer_sql(rng: &mut StdRng, next_id: &mut i64) -> String {
    let mut sql = String::from("BEGIN;");
    for _ in 0..rng.gen_range(1..40) {
        let id = rng.gen_range(1..*next_id);
        match rng.gen_range(0..100) {
            0..=54 => {
                sql += &format!(
                    "UPDATE public.items SET n = n + 1, counter = counter + 1, note = 'u{id}' WHERE id = {};",
                    id / 10 * 10
                )
            }
            55..=64 => {
                sql += &format!(
                    "UPDATE public.items SET counter = counter + 1, doc = repeat(md5(random()::text), 90) WHERE id = {id};"
                )
            }
            65..=84 => {
                sql += &format!(
                    "INSERT INTO public.items VALUES ({next_id}, 1, 0, repeat('i', {}), NULL);",
                    rng.gen_range(1..4000)
                );
                *next_id += 1;
            }
            _ => sql += &format!("DELETE FROM public.items WHERE id = {id};"),
        }
    }
    sql + "COMMIT;"
}

#[tokio::test]
async fn a_writer_and_sigkills_leave_the_dataset_equal_to_the_table() {
    let mut lab = cdc_lab(ITEMS, "workers = 2\nrun_attempts = 1000\n");
    let (flow, dataset) = cdc_flow(&lab, "public.items").await;
    let snapshot = run_window(&lab, &flow, 1).await;
    assert_eq!(status(&snapshot), "success", "{snapshot:#}");
    assert_eq!(snapshot["inletCdc"]["mode"], "snapshot", "{snapshot:#}");
    assert_eq!(snapshot["metrics"]["recordSummary"]["outputRecordCount"], 100_000);

    let seed: u64 = std::env::var("INLET_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("cdc chaos seed {seed} (INLET_CHAOS_SEED={seed} repeats it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, (socket, port)) = (stop.clone(), lab.pg.socket());
        let psql = lab.pg.psql_path();
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
            let (mut next_id, mut transactions) = (100_001i64, 0u64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sql = writer_sql(&mut rng, &mut next_id);
                crate::common::pg::psql_at(&psql, (&socket, port), "shop", &sql);
                transactions += 1;
            }
            transactions
        })
    };
    let mut window = 1;
    for kill in 0..5 {
        for _ in 0..rng.gen_range(1..3) {
            window += 1;
            lab.set_clock(T0 + window * PERIOD + 1);
            tokio::time::sleep(Duration::from_millis(rng.gen_range(400..1500))).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..800))).await;
        lab.inlet.kill();
        println!("kill {kill} at window {window}");
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..300))).await;
        lab.inlet.start_again();
        lab.api.base = lab.inlet.base.clone();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let transactions = writer.join().unwrap();
    window += 1;
    let last = run_window(&lab, &flow, window).await;
    let runs = lab.runs(&flow).await;
    assert!(runs.iter().all(|r| status(r) == "success"), "{runs:#?}");
    assert_eq!(last["inletCdc"]["mode"], "changes", "{last:#}");
    let total = |kind: &str| {
        runs.iter()
            .map(|r| r["inletCdc"][kind].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let (inserts, updates, deletes) = (total("inserts"), total("updates"), total("deletes"));
    println!(
        "{transactions} writer transactions over {window} windows: {inserts} inserts, {updates} updates, {deletes} \
         deletes merged in {} runs",
        runs.len()
    );
    assert!(
        inserts > 0 && updates > 0 && deletes > 0,
        "the writer's changes were merged: {runs:#?}"
    );
    assert_mirrors(&lab, &dataset, "public.items", "id, n, counter, doc, note").await;
    // The slot waits at the last run's position: nothing older is kept for it.
    let flow_item = lab.api.get(&format!("/flows/{flow}")).await;
    assert_eq!(
        flow_item.body["items"][0]["inletCdc"]["status"], "active",
        "{:#}",
        flow_item.body
    );
    assert_eq!(
        flow_item.body["items"][0]["inletCdc"]["confirmedLsn"],
        last["inletCdc"]["toLsn"]
    );
    let table = delta::read_with(&lab.dataset_location(&dataset).await, false, &lab.lake_env);
    assert_eq!(table["txns"][&flow], window, "one commit per window: {table:#}");
}

#[tokio::test]
async fn what_cannot_be_captured_is_refused_at_create_saying_what_to_change() {
    // A server without logical decoding.
    let plain = Lab::start_on(
        Vec::new(),
        T0 - 60,
        "CREATE TABLE public.t (id int PRIMARY KEY); ALTER TABLE public.t OWNER TO reader; ALTER ROLE reader REPLICATION;",
        "",
        Options::default(),
    );
    let base = plain.base_connection().await;
    let reply = plain
        .source_connection(&base, json!({"tableName": "public.t", "cdcEnabled": true}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.message().contains("wal_level"), "{}", reply.message());

    let lab = cdc_lab(
        "CREATE TABLE public.nokey (a int, b text); ALTER TABLE public.nokey OWNER TO reader;
         CREATE TABLE public.owned_by_other (id int PRIMARY KEY);",
        "",
    );
    let base = lab.base_connection().await;
    for (table, expected) in [("public.nokey", "key"), ("public.owned_by_other", "owner")] {
        let reply = lab
            .source_connection(&base, json!({"tableName": table, "cdcEnabled": true}))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{table}: {}", reply.body);
        assert!(reply.message().contains(expected), "{table}: {}", reply.message());
        assert!(reply.message().contains("/params/cdcEnabled"), "{}", reply.message());
    }
    // A user without the replication right.
    lab.pg.psql("shop", "ALTER ROLE reader NOREPLICATION");
    let reply = lab
        .source_connection(&base, json!({"tableName": "public.nokey", "cdcEnabled": true}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.message().contains("REPLICATION"), "{}", reply.message());
    let reply = lab
        .source_connection(&base, json!({"tableName": "public.nokey", "cdcEnabled": "yes"}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.message().contains("true or false"), "{}", reply.message());
}
