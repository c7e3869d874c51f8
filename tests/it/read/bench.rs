//! A throughput figure, not an assertion (ignored by default; run it in release):
//! `cargo test --release --test it -- --ignored --nocapture read_throughput`.
//! Reads a 1,000,000-row lineitem-like table into Arrow with 1 and 2 partitions, next to
//! `psql -c "COPY ... TO STDOUT (FORMAT binary)" > /dev/null`, the rate PostgreSQL hands
//! the table out at.

use super::{postgres, request};
use crate::common::pg::{PgOptions, PgServer};
use futures::StreamExt;
use inlet::sources::read::ReadRequest;
use std::process::{Command, Stdio};
use std::time::Instant;

const ROWS: u64 = 1_000_000;

const LINEITEM: &str = "
CREATE TABLE lineitem (
    l_orderkey int8 NOT NULL, l_partkey int8 NOT NULL, l_suppkey int8 NOT NULL, l_linenumber int4 NOT NULL,
    l_quantity numeric(15,2) NOT NULL, l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
    l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
    l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
    l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL,
    PRIMARY KEY (l_orderkey, l_linenumber)
);
INSERT INTO lineitem
SELECT g / 4 + 1, g % 200000, g % 10000, g % 4 + 1, (g % 50) + 1, ((g::int8 * 7919) % 10000000) / 100.0,
       (g % 11) / 100.0, (g % 9) / 100.0, (ARRAY['A','N','R'])[g % 3 + 1], (ARRAY['O','F'])[g % 2 + 1],
       date '1992-01-01' + g % 2500, date '1992-01-31' + g % 2500, date '1992-02-15' + g % 2500,
       (ARRAY['DELIVER IN PERSON','COLLECT COD','NONE','TAKE BACK RETURN'])[g % 4 + 1],
       (ARRAY['TRUCK','MAIL','SHIP','AIR','RAIL','FOB','REG AIR'])[g % 7 + 1],
       left(md5(g::text) || md5((g + 1)::text), 10 + g % 34)
FROM generate_series(0, 999999) g;
VACUUM ANALYZE lineitem;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
async fn read_throughput_lineitem() {
    let pg = PgServer::start(PgOptions {
        settings: vec![("shared_buffers".into(), "'512MB'".into())],
        ..Default::default()
    });
    pg.create_database("tpch");
    pg.psql("tpch", LINEITEM);
    let size = pg.psql("tpch", "SELECT pg_size_pretty(pg_relation_size('lineitem'))");
    eprintln!("lineitem: {ROWS} rows, {size}");
    for _ in 0..2 {
        copy_to_dev_null(&pg);
    }
    let source = postgres(&pg, "tpch");
    for partitions in [1, 2, 1, 2] {
        let request = ReadRequest {
            partitions,
            batch_rows: 65_536,
            channel_depth: 4,
            ..request("lineitem")
        };
        let started = Instant::now();
        let stream = source.read(&request).await.unwrap();
        let (progress, mut batches) = (stream.progress.clone(), stream.batches);
        let mut rows = 0;
        while let Some(batch) = batches.next().await {
            rows += batch.unwrap().num_rows() as u64;
        }
        assert_eq!(rows, ROWS);
        let seconds = started.elapsed().as_secs_f64();
        let megabytes = progress.bytes() as f64 / 1e6;
        eprintln!(
            "inlet read, {partitions} partition(s): {:.2} s, {:.0} rows/s, {:.0} MB/s of COPY data",
            seconds,
            ROWS as f64 / seconds,
            megabytes / seconds
        );
    }
}

/// `psql -c "COPY lineitem TO STDOUT (FORMAT binary)" > /dev/null` over the unix socket.
fn copy_to_dev_null(pg: &PgServer) {
    let started = Instant::now();
    let status = Command::new(pg.psql_path())
        .args([
            "-X",
            "-q",
            "-h",
            pg.dir().join("sock").to_str().unwrap(),
            "-p",
            &pg.port().to_string(),
        ])
        .args([
            "-U",
            "postgres",
            "-d",
            "tpch",
            "-c",
            "COPY lineitem TO STDOUT (FORMAT binary)",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("run psql");
    assert!(status.success());
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "psql COPY (FORMAT binary) > /dev/null: {seconds:.2} s, {:.0} rows/s",
        ROWS as f64 / seconds
    );
}
