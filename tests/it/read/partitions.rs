//! Partitions: a 200,000-row table read in 4 partitions gives every row exactly once, all
//! from ONE snapshot (changes committed after `read` returns are not seen, and every
//! partition's backend holds the same snapshot), on several connections at once. Also a
//! slow consumer: the readers stop once their bounded channels are full.

use super::{collect, column, config, postgres, primitive, request};
use crate::common::pg::{PgOptions, PgServer};
use arrow_array::types::Int64Type;
use futures::StreamExt;
use inlet::sources::connect::ConnectOptions;
use inlet::sources::postgres::partition::{MIN_PARTITION_BYTES, Split};
use inlet::sources::read::{ReadRequest, ReadStream};
use inlet::specs::SourceKind;
use std::time::Duration;

const ROWS: i64 = 200_000;

const FIXTURE: &str = "
CREATE TABLE big (id int8 PRIMARY KEY, pad text NOT NULL);
INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 200000) g;
CREATE VIEW big_view AS SELECT id FROM big;
ANALYZE big;";

fn server() -> PgServer {
    let pg = PgServer::start(PgOptions {
        log_statements: true,
        ..Default::default()
    });
    pg.create_database("shop");
    pg.psql("shop", FIXTURE);
    let bytes: i64 = pg.psql("shop", "SELECT pg_relation_size('big')").parse().unwrap();
    assert!(
        bytes >= 4 * MIN_PARTITION_BYTES,
        "the table is too small to split in 4: {bytes}"
    );
    pg
}

fn split_request(partitions: usize) -> ReadRequest {
    ReadRequest {
        partitions,
        batch_rows: 5000,
        ..request("big")
    }
}

/// Commits changes that a read whose snapshot is already taken must not see.
fn change_the_table(pg: &PgServer) {
    pg.psql(
        "shop",
        "DELETE FROM big WHERE id <= 1000;
         INSERT INTO big SELECT g, 'new' FROM generate_series(200001, 201000) g;
         UPDATE big SET id = -id WHERE id BETWEEN 5001 AND 6000;",
    );
}

/// Waits until pg_stat_activity shows `expected` backends running the read's COPY
/// statements at once, all holding one snapshot (one distinct `backend_xmin`).
async fn wait_for_parallel_copies(pg: &PgServer, expected: usize) {
    let sql =
        "SELECT count(*), count(DISTINCT backend_xmin::text) FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%'";
    let wanted = format!("{expected}|1");
    let mut seen = String::new();
    for _ in 0..100 {
        seen = pg.psql("shop", sql);
        if seen == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("pg_stat_activity shows (backends|snapshots) {seen}, not {wanted}");
}

/// Reads the rest of `stream` after `first`, checking each id once and the table as of the
/// snapshot: ids 1..=200000 exactly.
async fn check_every_row_once(stream: ReadStream, first: Vec<i64>) {
    let progress = stream.progress.clone();
    let batches = collect(stream).await.unwrap();
    let mut ids: Vec<i64> = column(&batches, "id", primitive::<Int64Type>)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    ids.extend(first);
    ids.sort_unstable();
    assert_eq!(ids.len() as i64, ROWS);
    ids.dedup();
    assert_eq!(ids.len() as i64, ROWS, "a row was read twice");
    assert_eq!((ids[0], ids[ids.len() - 1]), (1, ROWS));
    assert_eq!(ids.iter().sum::<i64>(), ROWS * (ROWS + 1) / 2);
    assert_eq!(progress.rows(), ROWS as u64);
    assert!(progress.bytes() > ROWS as u64 * 100, "{}", progress.bytes());
}

async fn first_batch_ids(stream: &mut ReadStream) -> Vec<i64> {
    let first = stream.batches.next().await.unwrap().unwrap();
    column(&[first], "id", primitive::<Int64Type>)
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

fn statements(pg: &PgServer, containing: &str) -> usize {
    let logged = |line: &&str| line.contains("LOG:  statement: ") || line.contains("LOG:  execute ");
    pg.server_log()
        .lines()
        .filter(logged)
        .filter(|line| line.contains(containing))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctid_partitions_read_every_row_once_from_one_snapshot_in_parallel() {
    let pg = server();
    let source = postgres(&pg, "shop");
    let mut stream = source.read(&split_request(4)).await.unwrap();
    assert_eq!(stream.estimated_rows, Some(ROWS as u64));
    change_the_table(&pg);
    let first = first_batch_ids(&mut stream).await;
    // All four read at once (none can finish while the consumer waits: each has more
    // batches than its channel holds), all in the one exported snapshot.
    wait_for_parallel_copies(&pg, 4).await;
    check_every_row_once(stream, first).await;

    assert_eq!(statements(&pg, "pg_export_snapshot()"), 1);
    assert_eq!(statements(&pg, "SET TRANSACTION SNAPSHOT"), 3);
    assert_eq!(statements(&pg, "ctid >= '("), 3);
    assert_eq!(pg.psql("shop", "SELECT count(*) FROM big WHERE id > 0"), "199000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_partitions_read_every_row_once_from_one_snapshot() {
    let pg = server();
    let (user, password) = pg.superuser();
    let config = config(&pg, SourceKind::Postgres, user, password, "shop");
    let read = inlet::sources::postgres::read::read;
    let mut stream = read(
        &config,
        &ConnectOptions::default(),
        &split_request(4),
        Split::PrimaryKey,
    )
    .await
    .unwrap();
    change_the_table(&pg);
    let first = first_batch_ids(&mut stream).await;
    wait_for_parallel_copies(&pg, 4).await;
    check_every_row_once(stream, first).await;
    assert_eq!(statements(&pg, "SET TRANSACTION SNAPSHOT"), 3);
    assert_eq!(statements(&pg, "(\"id\" >= 150000)"), 1, "{}", pg.server_log());
    assert_eq!(statements(&pg, "ctid"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_and_single_partitions_read_as_one_stream() {
    let pg = server();
    let source = postgres(&pg, "shop");
    let view = ReadRequest {
        partitions: 4,
        ..request("big_view")
    };
    let batches = super::read_all(source.as_ref(), &view).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), ROWS as usize);
    let batches = super::read_all(source.as_ref(), &split_request(1)).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), ROWS as usize);
    assert_eq!(statements(&pg, "pg_export_snapshot()"), 0);
    assert_eq!(statements(&pg, "COPY (SELECT"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_holds_readers_to_their_channels() {
    let pg = server();
    let source = postgres(&pg, "shop");
    let (partitions, depth, batch_rows) = (2, 1, 1000);
    let request = ReadRequest {
        partitions,
        channel_depth: depth,
        batch_rows,
        ..request("big")
    };
    let mut stream = source.read(&request).await.unwrap();
    assert_eq!(stream.progress.rows(), 0, "nothing is read before the stream is polled");
    let first = first_batch_ids(&mut stream).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rows, bytes) = (stream.progress.rows(), stream.progress.bytes());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        (stream.progress.rows(), stream.progress.bytes()),
        (rows, bytes),
        "reading went on"
    );
    // One batch consumed; per partition `depth` batches in the channel and one waiting
    // to be handed over.
    let bound = (1 + partitions * (depth + 1)) * batch_rows;
    assert!(
        rows <= bound as u64,
        "{rows} rows read ahead of a consumer that took {batch_rows}"
    );
    assert!(rows >= 2 * batch_rows as u64, "{rows}");
    check_every_row_once(stream, first).await;
}
