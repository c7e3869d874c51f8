//! `source_connections` holds across processes: three `inlet serve` processes on one
//! PostgreSQL metadata store, each with two workers and reads of four partitions, copy six
//! tables of one source server at once, and the source never sees more than
//! `source_connections` reading sessions at a time (sampled from `pg_stat_activity`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use serde_json::json;

use super::{Lab, status};
use crate::common::pg::{PgOptions, PgServer};
use crate::common::server::{Inlet, Options};

const LIMIT: i64 = 4;
const FLOWS: usize = 6;
/// Each table is about 40 MB, so a read splits into the four partitions it asks for.
const SETUP: &str = "CREATE TABLE public.events (id bigint PRIMARY KEY, payload text NOT NULL);
    INSERT INTO public.events SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 400000) g;
    ANALYZE public.events;";

/// Samples the number of the reader role's sessions on `pg` until `stop`; returns the
/// highest count seen and the number of samples.
fn sample_sessions(pg: &PgServer, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(i64, u64)> {
    let url = pg.admin_url("shop");
    tokio::spawn(async move {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("the sampler connects");
        tokio::spawn(connection);
        let (most, samples) = (AtomicI64::new(0), std::sync::atomic::AtomicU64::new(0));
        while !stop.load(Ordering::SeqCst) {
            let row = client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'reader' AND backend_type = 'client backend'",
                    &[],
                )
                .await
                .expect("sample pg_stat_activity");
            most.fetch_max(row.get::<_, i64>(0), Ordering::SeqCst);
            samples.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (most.load(Ordering::SeqCst), samples.load(Ordering::SeqCst))
    })
}

#[tokio::test]
async fn three_processes_never_hold_more_than_source_connections_together() {
    let metadata = PgServer::start(PgOptions::default());
    metadata.create_database("meta");
    let options = Options {
        metadata_url: Some(metadata.admin_url("meta")),
        ..Options::default()
    };
    let config = format!("workers = 2\nsource_partitions = 4\nsource_connections = {LIMIT}\n");
    let now = chrono::Utc::now().timestamp();
    let lab = Lab::start_with(now, SETUP, &config, options.clone());
    let others: Vec<Inlet> = (0..2)
        .map(|_| {
            Inlet::start_with(Options {
                clock_file: Some(lab.clock.clone()),
                config: Some(format!("{}{config}", super::QUICK)),
                data_dir: Some(lab.inlet.data_dir()),
                ..options.clone()
            })
        })
        .collect();
    let mut flows = Vec::new();
    for _ in 0..FLOWS {
        let (source, target, _) = lab.connections("public.events").await;
        let once = json!({"startTime": (now + 2).to_string(), "frequency": "once"});
        flows.push(lab.flow(&source, &target, json!([]), once).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_sessions(&lab.pg, stop.clone());
    lab.set_clock(now + 2);
    for flow in &flows {
        let runs = lab.ended_runs(flow, 1, Duration::from_secs(240)).await;
        assert_eq!(status(&runs[0]), "success", "{:#}", runs[0]);
        assert_eq!(runs[0]["metrics"]["recordSummary"]["outputRecordCount"], 400_000);
    }
    stop.store(true, Ordering::SeqCst);
    let (most, samples) = sampler.await.unwrap();
    let logs: String = others.iter().map(Inlet::logs).collect();
    let claimed_elsewhere = logs.matches("run claimed").count();
    println!(
        "at most {most} reading sessions at once over {samples} samples; {claimed_elsewhere} of {FLOWS} runs \
         claimed by the second and third processes"
    );
    assert!(
        most <= LIMIT,
        "{most} sessions at once, more than source_connections = {LIMIT}"
    );
    assert!(
        most > 1,
        "the runs never read at the same time: the test proved nothing"
    );
    assert!(
        claimed_elsewhere > 0,
        "only one process worked: the limit was not shared"
    );
}
