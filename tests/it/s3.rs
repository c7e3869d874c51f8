//! The lake on a real S3-compatible server (SeaweedFS, `common/s3.rs`): data files go up
//! as multipart uploads while they are written, writers racing on one table lose no
//! commit, and `inlet serve` refuses a store that would let commits overwrite each other,
//! without printing a secret. Every table is read back from S3 by the independent reader.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::StreamExt;
use inlet::lake::arrow::array::{ArrayRef, BinaryArray, Int64Array};
use inlet::lake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use inlet::lake::arrow::record_batch::RecordBatch;
use inlet::lake::{CommitOutcome, Lake, LakeConfig, WriteMode};
use serde_json::Value;

use crate::common::delta::{read_with, spec};
use crate::common::s3::{BUCKET, S3Server};
use crate::common::server::{Inlet, Options};

/// Rows of a batch of the blob schema, each with 1 KiB of incompressible bytes.
const BLOB_ROWS: i64 = 1024;

fn blob_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("blob", DataType::Binary, false),
    ]))
}

/// Batch `n` of the blob schema: ids `n * BLOB_ROWS ..`, pseudo-random blobs (xorshift).
fn blobs(n: i64) -> RecordBatch {
    let ids = n * BLOB_ROWS..(n + 1) * BLOB_ROWS;
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ n as u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let values: Vec<Vec<u8>> = ids
        .clone()
        .map(|_| (0..128).flat_map(|_| next().to_le_bytes()).collect())
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(ids)),
        Arc::new(BinaryArray::from_iter_values(values.iter())),
    ];
    RecordBatch::try_new(blob_schema(), columns).unwrap()
}

fn lake_on(s3: &S3Server, prefix: &str) -> Lake {
    let mut config = LakeConfig::new(s3.root(prefix));
    config.storage_options = s3.storage_options();
    config.writers = 1;
    config.row_group_bytes = 1 << 20;
    Lake::new(&config).expect("open the S3 lake")
}

/// The multipart uploads in progress in the bucket, as (object key, parts uploaded),
/// from the SeaweedFS filer's listing of the bucket's `.uploads` directory.
fn uploads_in_progress(s3: &S3Server) -> Vec<(String, usize)> {
    let listing = s3.filer_json(&format!("/buckets/{BUCKET}/.uploads/"));
    let entries = listing["Entries"].as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .map(|upload| {
            let key = upload["Extended"]["key"].as_str().unwrap_or_default();
            let key = base64::engine::general_purpose::STANDARD
                .decode(key)
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .unwrap_or_default();
            let path = upload["FullPath"].as_str().unwrap_or_default();
            let parts = s3.filer_json(&format!("{path}/"))["Entries"]
                .as_array()
                .map_or(0, Vec::len);
            (key, parts)
        })
        .collect()
}

#[tokio::test]
async fn data_files_go_up_as_multipart_uploads_while_they_are_written() {
    let s3 = S3Server::start();
    let lake = lake_on(&s3, "streamed");
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    // 12 MiB of incompressible rows, then the stream waits: the writer has flushed more
    // than one 5 MiB part by then, so an upload must be in progress, and no file is done.
    let first = futures::stream::iter((0..12).map(|n| Ok::<_, std::io::Error>(blobs(n))));
    let rest = futures::stream::once(async move {
        let _ = released.await;
        Ok(blobs(12))
    });
    let write = tokio::spawn({
        let lake = lake.clone();
        async move {
            let batches = first.chain(rest);
            lake.write("d1", blob_schema(), batches, spec(WriteMode::Append, "flow", 1))
                .await
        }
    });
    let started = Instant::now();
    let in_progress = loop {
        let uploads = uploads_in_progress(&s3);
        if uploads.iter().any(|(_, parts)| *parts > 0) {
            break uploads;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no multipart upload with a part in progress while the write waits: {uploads:?}\n{}",
            s3.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        in_progress.iter().any(|(key, _)| key.starts_with("streamed/d1/part-")),
        "the upload is the table's data file: {in_progress:?}"
    );
    release.send(()).unwrap();
    let outcome = write.await.unwrap().expect("the write commits");
    assert!(matches!(outcome, CommitOutcome::Committed { files: 1, rows, .. } if rows == 13 * BLOB_ROWS as u64));
    assert!(uploads_in_progress(&s3).is_empty(), "the upload was completed");
    let table = read_with(&lake.table_location("d1"), false, &s3.env());
    assert_eq!(table["rows"], 13 * BLOB_ROWS);
    assert_eq!(table["sums"]["id"], (0..13 * BLOB_ROWS).sum::<i64>());
}

/// Writes one batch of `ids` once every writer of `barrier` is ready to, so the commits
/// of all of them race.
async fn racing(lake: &Lake, barrier: Arc<tokio::sync::Barrier>, n: i64, app: &str, version: i64) -> CommitOutcome {
    let batches = futures::stream::once(async move {
        barrier.wait().await;
        Ok::<_, std::io::Error>(blobs(n))
    });
    lake.write("raced", blob_schema(), batches, spec(WriteMode::Append, app, version))
        .await
        .expect("write")
}

/// Two lakes (two clients, as two processes have) commit to one table at the same
/// moment, round after round: each round's two commits land, as consecutive versions.
#[tokio::test]
async fn writers_released_together_on_s3_lose_no_commit() {
    const ROUNDS: i64 = 12;
    let s3 = S3Server::start();
    let (one, two) = (lake_on(&s3, "race"), lake_on(&s3, "race"));
    for round in 1..=ROUNDS {
        let barrier = Arc::new(tokio::sync::Barrier::new(3));
        let (a, b, c) = tokio::join!(
            racing(&one, barrier.clone(), 3 * round, "flow-a", round),
            racing(&two, barrier.clone(), 3 * round + 1, "flow-b", round),
            // The same window as flow-a's, from the other client: it must not land twice.
            racing(&two, barrier.clone(), 3 * round + 2, "flow-a", round),
        );
        assert!(matches!(b, CommitOutcome::Committed { .. }), "round {round}: {b:?}");
        let landed = [&a, &c]
            .iter()
            .filter(|o| matches!(o, CommitOutcome::Committed { .. }))
            .count();
        assert_eq!(landed, 1, "round {round}: flow-a's window lands once: {a:?} {c:?}");
    }
    let table = read_with(&one.table_location("raced"), false, &s3.env());
    let versions: Vec<i64> = serde_json::from_value(table["log_versions"].clone()).unwrap();
    assert_eq!(
        versions,
        (0..2 * ROUNDS).collect::<Vec<_>>(),
        "a consecutive log: {table:#}"
    );
    assert_eq!(table["rows"], 2 * ROUNDS * BLOB_ROWS, "two batches a round");
    assert_eq!(table["txns"]["flow-a"], ROUNDS);
    assert_eq!(table["txns"]["flow-b"], ROUNDS);
    assert_eq!(table["distinct"]["id"], 2 * ROUNDS * BLOB_ROWS, "no batch twice");
}

fn serve_on(s3: &S3Server, env: Vec<(String, String)>) -> (std::process::ExitStatus, String) {
    Inlet::start_expecting_failure(Options {
        lake_root: Some(s3.root("lake")),
        env,
        ..Options::default()
    })
}

#[test]
fn serve_refuses_a_store_client_without_conditional_writes() {
    let s3 = S3Server::start();
    let mut env = s3.env();
    env.push(("AWS_CONDITIONAL_PUT".into(), "disabled".into()));
    let (status, output) = serve_on(&s3, env);
    assert!(!status.success(), "{output}");
    assert!(
        output.contains("cannot take commits from several writers safely") && output.contains("conditional writes"),
        "{output}"
    );
    assert!(!output.contains(s3.secret_key()), "no secret in the output: {output}");
}

#[test]
fn serve_refuses_a_locking_provider_that_delta_rs_ignores() {
    let s3 = S3Server::start();
    let mut env = s3.env();
    env.push(("AWS_S3_LOCKING_PROVIDER".into(), "dynamodb".into()));
    let (status, output) = serve_on(&s3, env);
    assert!(!status.success(), "{output}");
    assert!(output.contains("AWS_S3_LOCKING_PROVIDER"), "{output}");
}

#[test]
fn a_wrong_secret_fails_the_start_without_being_printed() {
    let s3 = S3Server::start();
    let wrong = "Wrong-secret-5c1d9e";
    let env: Vec<(String, String)> = s3
        .env()
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_SECRET_ACCESS_KEY" => (k, wrong.to_string()),
            _ => (k, v),
        })
        .collect();
    let (status, output) = serve_on(&s3, env);
    assert!(!status.success(), "{output}");
    assert!(
        output.contains("cannot write to the lake at s3://lake/lake/"),
        "{output}"
    );
    assert!(!output.contains(wrong) && !output.contains(s3.secret_key()), "{output}");
}

/// A started server answers on an S3 lake, and its probe left nothing behind.
#[tokio::test]
async fn serve_starts_on_a_store_with_conditional_writes() {
    let s3 = S3Server::start();
    let inlet = Inlet::start_with(Options {
        lake_root: Some(s3.root("lake")),
        env: s3.env(),
        ..Options::default()
    });
    let health = reqwest::get(format!("{}/readyz", inlet.base)).await.unwrap();
    assert!(health.status().is_success());
    let probes: Value = s3.filer_json(&format!("/buckets/{BUCKET}/lake/_inlet_probe/"));
    let left = probes["Entries"].as_array().map_or(0, Vec::len);
    assert_eq!(left, 0, "the probe object is removed: {probes}");
    assert!(!inlet.logs().contains(s3.secret_key()), "no secret in the log");
}
