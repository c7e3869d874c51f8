//! A change data capture flow whose table changes its columns between runs while a
//! writer runs and `inlet serve` is killed with SIGKILL: a column added, a type widened
//! (int → bigint with values beyond 2^31, numeric(10,2) → numeric(14,2) with 12 digits),
//! varchar(20) → text, a column dropped and one renamed. Every run lands, and every row of
//! the dataset equals the table's, value for value (nulls only where the source had no
//! column when the row last changed).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::super::status;
use super::{PERIOD, T0, cdc_flow, cdc_lab, dataset_rows, run_window, source_table};

const EVOLVING: &str = "CREATE TABLE public.evolving (id bigint PRIMARY KEY, counter int NOT NULL DEFAULT 0,
        amount numeric(10,2), label varchar(20), note text, old_name text);
    INSERT INTO public.evolving SELECT g, 0, g / 100.0, 'l' || g, 'note ' || g, 'old ' || g
        FROM generate_series(1, 20000) g;
    ALTER TABLE public.evolving OWNER TO reader;";

/// The changes, one before each window, each with rows that need it.
const STEPS: [&str; 6] = [
    "ALTER TABLE public.evolving ADD COLUMN extra text;
     UPDATE public.evolving SET extra = 'e' || id WHERE id % 100 = 0",
    "ALTER TABLE public.evolving ALTER COLUMN counter TYPE bigint;
     UPDATE public.evolving SET counter = counter + 3000000000 WHERE id % 1000 = 1",
    "ALTER TABLE public.evolving ALTER COLUMN amount TYPE numeric(14,2);
     UPDATE public.evolving SET amount = 123456789012.34 WHERE id % 500 = 2",
    "ALTER TABLE public.evolving ALTER COLUMN label TYPE text;
     UPDATE public.evolving SET label = repeat('z', 50) WHERE id % 700 = 3",
    "ALTER TABLE public.evolving DROP COLUMN note",
    "ALTER TABLE public.evolving RENAME COLUMN old_name TO new_name;
     UPDATE public.evolving SET new_name = 'n' || id WHERE id % 300 = 4",
];

/// A writer's random transaction: counter updates, inserts of bare rows, deletes; only
/// columns no step touches.
fn writer_sql(rng: &mut StdRng, next_id: &mut i64) -> String {
    let mut sql = String::from("BEGIN;");
    for _ in 0..rng.gen_range(1..20) {
        let id = rng.gen_range(1..*next_id);
        match rng.gen_range(0..100) {
            0..=69 => sql += &format!("UPDATE public.evolving SET counter = counter + 1 WHERE id = {id};"),
            70..=89 => {
                sql += &format!("INSERT INTO public.evolving (id, counter) VALUES ({next_id}, 1);");
                *next_id += 1;
            }
            _ => sql += &format!("DELETE FROM public.evolving WHERE id = {id};"),
        }
    }
    sql + "COMMIT;"
}

#[tokio::test]
async fn a_capture_lands_every_schema_change_with_a_writer_and_sigkills() {
    let mut lab = cdc_lab(EVOLVING, "workers = 2\nrun_attempts = 1000\n");
    let (flow, dataset) = cdc_flow(&lab, "public.evolving").await;
    let snapshot = run_window(&lab, &flow, 1).await;
    assert_eq!(status(&snapshot), "success", "{snapshot:#}");

    let seed: u64 = std::env::var("INLET_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("cdc schema chaos seed {seed} (INLET_CHAOS_SEED={seed} repeats it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, (socket, port)) = (stop.clone(), lab.pg.socket());
        let psql = lab.pg.psql_path();
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
            let (mut next_id, mut transactions) = (20_001i64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let sql = writer_sql(&mut rng, &mut next_id);
                crate::common::pg::psql_at(&psql, (&socket, port), "shop", &sql);
                transactions += 1;
            }
            transactions
        })
    };
    let mut window = 1;
    for (index, step) in STEPS.iter().enumerate() {
        lab.pg.psql("shop", step);
        window += 1;
        lab.set_clock(T0 + window * PERIOD + 1);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1200))).await;
        if index % 2 == 0 {
            lab.inlet.kill();
            println!("kill after step {index} at window {window}");
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..300))).await;
            lab.inlet.start_again();
            lab.api.base = lab.inlet.base.clone();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let transactions = writer.join().unwrap();
    window += 1;
    let last = run_window(&lab, &flow, window).await;
    assert_eq!(status(&last), "success", "{last:#}");
    let runs = lab.runs(&flow).await;
    assert!(runs.iter().all(|r| status(r) == "success"), "{runs:#?}");
    let recorded: Vec<(String, String)> = runs
        .iter()
        .flat_map(|r| r["inletSchemaChanges"].as_array().cloned().unwrap_or_default())
        .map(|c| {
            (
                c["column"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for wanted in [
        ("extra", "added"),
        ("counter", "widened"),
        ("amount", "widened"),
        ("note", "dropped"),
        ("new_name", "renamed"),
    ] {
        let wanted = (wanted.0.to_string(), wanted.1.to_string());
        assert!(recorded.contains(&wanted), "{wanted:?} in {recorded:?}");
    }
    println!(
        "{transactions} writer transactions over {window} windows in {} runs",
        runs.len()
    );

    let source = source_table(&lab, "public.evolving", "id, counter, amount, label, extra, new_name");
    let rows = dataset_rows(&lab, &dataset).await;
    assert_eq!(rows.len(), source.len(), "row counts (dataset, source)");
    let big = rows
        .iter()
        .filter(|r| r["counter"].as_i64().unwrap_or(0) > i64::from(i32::MAX))
        .count();
    assert!(big > 0, "values beyond 2^31 landed");
    for (got, want) in rows.iter().zip(&source) {
        for column in ["id", "counter", "label", "extra"] {
            assert_eq!(
                got[column], want[column],
                "column {column}: dataset {got} vs source {want}"
            );
        }
        let amount = want["amount"].as_f64().map(|a| format!("{a:.2}"));
        assert_eq!(got["amount"].as_str().map(str::to_string), amount, "{got} vs {want}");
        // A row last changed before the rename holds its value under the old name.
        let renamed = if got["new_name"].is_null() {
            &got["old_name"]
        } else {
            &got["new_name"]
        };
        assert_eq!(renamed, &want["new_name"], "{got} vs {want}");
        let types: Value = got["note"].clone();
        assert!(
            types.is_null() || types.as_str().is_some_and(|n| n.starts_with("note ")),
            "{got}"
        );
    }
}
