//! The lake at library level, on a temporary directory; every result is read back with
//! an independent reader (`read_delta.py`: the Python `deltalake` package and the raw log).

use std::sync::Arc;

use futures::stream;
use inlet::lake::arrow::array::{ArrayRef, Int64Array, StringArray};
use inlet::lake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use inlet::lake::arrow::record_batch::RecordBatch;
use inlet::lake::{CommitOutcome, CommitSpec, Lake, LakeConfig, LakeError, WriteMode};

use crate::common::delta::{lake_in, ok_stream, parquet_files, read, spec};

fn people_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

/// Rows `ids` of the people schema, named `p<id>`.
fn people(ids: std::ops::Range<i64>) -> RecordBatch {
    let names: Vec<String> = ids.clone().map(|i| format!("p{i}")).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(ids)),
        Arc::new(StringArray::from_iter_values(names)),
    ];
    RecordBatch::try_new(people_schema(), columns).unwrap()
}

fn sum(ids: std::ops::Range<i64>) -> i64 {
    ids.sum()
}

async fn write(lake: &Lake, dataset: &str, batches: Vec<RecordBatch>, commit: CommitSpec) -> CommitOutcome {
    lake.write(dataset, people_schema(), ok_stream(batches), commit)
        .await
        .expect("write")
}

#[tokio::test]
async fn each_txn_version_is_committed_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_in(&dir, 128 << 20);
    let first = write(
        &lake,
        "d1",
        vec![people(0..60), people(60..100)],
        spec(WriteMode::Append, "flow-a", 1),
    )
    .await;
    assert!(
        matches!(
            first,
            CommitOutcome::Committed {
                table_version: 0,
                rows: 100,
                ..
            }
        ),
        "{first:?}"
    );
    let second = write(
        &lake,
        "d1",
        vec![people(100..250)],
        spec(WriteMode::Append, "flow-a", 2),
    )
    .await;
    assert!(
        matches!(
            second,
            CommitOutcome::Committed {
                table_version: 1,
                rows: 150,
                ..
            }
        ),
        "{second:?}"
    );

    let table = read(&lake.table_location("d1"), false);
    assert_eq!(table["version"], 1);
    assert_eq!(table["rows"], 250);
    assert_eq!(table["sums"]["id"], sum(0..250));
    assert_eq!(table["txns"], serde_json::json!({"flow-a": 2}));
    let runs: Vec<&str> = table["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["runId"].as_str().unwrap())
        .collect();
    assert_eq!(runs, ["run-flow-a-1", "run-flow-a-2"]);

    for repeated in [2, 1] {
        let again = write(
            &lake,
            "d1",
            vec![people(500..600)],
            spec(WriteMode::Append, "flow-a", repeated),
        )
        .await;
        assert_eq!(again, CommitOutcome::AlreadyCommitted { txn_version: 2 });
    }
    let replace = write(
        &lake,
        "d1",
        vec![people(500..600)],
        spec(WriteMode::Replace, "flow-a", 2),
    )
    .await;
    assert_eq!(replace, CommitOutcome::AlreadyCommitted { txn_version: 2 });
    assert_eq!(
        read(&lake.table_location("d1"), false),
        table,
        "nothing new after repeats"
    );
    assert_eq!(lake.committed_version("d1", "flow-a").await.unwrap(), Some(2));
    assert_eq!(lake.committed_version("d1", "flow-b").await.unwrap(), None);
    assert_eq!(lake.committed_version("nothing-here", "flow-a").await.unwrap(), None);
}

#[tokio::test]
async fn replace_leaves_only_the_new_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_in(&dir, 128 << 20);
    write(&lake, "d1", vec![people(0..100)], spec(WriteMode::Append, "flow-a", 1)).await;
    write(
        &lake,
        "d1",
        vec![people(100..200)],
        spec(WriteMode::Append, "flow-b", 1),
    )
    .await;
    let replaced = write(
        &lake,
        "d1",
        vec![people(1000..1010)],
        spec(WriteMode::Replace, "flow-a", 2),
    )
    .await;
    assert!(
        matches!(
            replaced,
            CommitOutcome::Committed {
                table_version: 2,
                rows: 10,
                files: 1,
                ..
            }
        ),
        "{replaced:?}"
    );

    let table = read(&lake.table_location("d1"), true);
    assert_eq!(table["rows"], 10);
    assert_eq!(table["files"], 1);
    assert_eq!(table["sums"]["id"], sum(1000..1010));
    assert_eq!(table["data"][0], serde_json::json!({"id": 1000, "name": "p1000"}));
    assert_eq!(table["txns"], serde_json::json!({"flow-a": 2, "flow-b": 1}));
    assert_eq!(table["commits"][2]["operation"], "WRITE");

    let empty = write(&lake, "d1", vec![], spec(WriteMode::Replace, "flow-a", 3)).await;
    assert!(
        matches!(empty, CommitOutcome::Committed { rows: 0, files: 0, .. }),
        "{empty:?}"
    );
    let table = read(&lake.table_location("d1"), false);
    assert_eq!((table["rows"].as_u64(), table["files"].as_u64()), (Some(0), Some(0)));
    assert_eq!(table["txns"]["flow-a"], 3);
}

#[tokio::test]
async fn a_different_schema_is_refused_naming_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_in(&dir, 128 << 20);
    write(&lake, "d1", vec![people(0..10)], spec(WriteMode::Append, "flow-a", 1)).await;
    let before = read(&lake.table_location("d1"), false);

    let changed = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("extra", DataType::Boolean, true),
    ]));
    let batch = RecordBatch::new_empty(changed.clone());
    let error = lake
        .write(
            "d1",
            changed,
            ok_stream(vec![batch]),
            spec(WriteMode::Append, "flow-a", 2),
        )
        .await
        .unwrap_err();
    let LakeError::SchemaMismatch { differences, .. } = &error else {
        panic!("a schema mismatch expected: {error}")
    };
    assert_eq!(differences.len(), 3, "{differences:?}");
    let message = error.to_string();
    for part in [
        "d1",
        "`id` is long not null in the table but integer not null",
        "`name`",
        "`extra`",
    ] {
        assert!(message.contains(part), "{part} in {message}");
    }
    assert_eq!(read(&lake.table_location("d1"), false), before);
    assert!(matches!(
        lake.write(
            "../x",
            people_schema(),
            ok_stream(vec![]),
            spec(WriteMode::Append, "a", 1)
        )
        .await,
        Err(LakeError::InvalidDatasetId(_))
    ));
}

#[tokio::test]
async fn a_stream_that_fails_midway_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_in(&dir, 64 << 10);
    let failing = |from: i64| {
        let good = (0..20).map(move |i| Ok(people(from + i * 5000..from + (i + 1) * 5000)));
        stream::iter(good.chain([Err(std::io::Error::other("source went away"))]))
    };
    let error = lake
        .write("d1", people_schema(), failing(0), spec(WriteMode::Append, "flow-a", 1))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("source went away"), "{error}");
    assert_eq!(
        lake.table_schema("d1").await.unwrap(),
        None,
        "no table after a failed first write"
    );

    write(&lake, "d1", vec![people(0..10)], spec(WriteMode::Append, "flow-a", 1)).await;
    let before = read(&lake.table_location("d1"), false);
    lake.write(
        "d1",
        people_schema(),
        failing(100),
        spec(WriteMode::Append, "flow-a", 2),
    )
    .await
    .unwrap_err();
    assert_eq!(
        read(&lake.table_location("d1"), false),
        before,
        "the failed write is invisible"
    );
    assert_eq!(lake.committed_version("d1", "flow-a").await.unwrap(), Some(1));

    let location = lake.table_location("d1");
    let on_disk = || parquet_files(std::path::Path::new(&location));
    let orphans = on_disk() - 1;
    assert!(orphans > 0, "the failed write left rolled files behind");
    let removed = lake.remove_orphans("d1", std::time::Duration::ZERO).await.unwrap();
    assert_eq!(removed, orphans);
    assert_eq!(on_disk(), 1, "only the committed file is left");
    let after = read(&location, false);
    assert_eq!(
        (after["rows"].clone(), after["sums"].clone()),
        (before["rows"].clone(), before["sums"].clone())
    );
}

#[tokio::test]
async fn a_million_rows_stream_into_several_files() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_in(&dir, 2 << 20);
    let batches = stream::iter((0..100).map(|i| Ok::<_, std::io::Error>(people(i * 10_000..(i + 1) * 10_000))));
    let outcome = lake
        .write("big", people_schema(), batches, spec(WriteMode::Append, "flow-a", 1))
        .await
        .unwrap();
    let CommitOutcome::Committed { files, rows, bytes, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(rows, 1_000_000);
    assert!(files > 1, "{files} file(s) for ~{bytes} bytes at a 2 MiB roll size");
    let table = read(&lake.table_location("big"), false);
    assert_eq!(table["rows"], 1_000_000);
    assert_eq!(table["files"], files);
    assert_eq!(table["sums"]["id"], sum(0..1_000_000));
}

#[tokio::test]
async fn several_writers_put_every_row_into_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = LakeConfig::new(dir.path().join("lake").to_str().unwrap());
    config.writers = 4;
    let lake = Lake::new(&config).unwrap();
    let batches = stream::iter((0..40).map(|i| Ok::<_, std::io::Error>(people(i * 5_000..(i + 1) * 5_000))));
    let outcome = lake
        .write("d", people_schema(), batches, spec(WriteMode::Append, "flow-a", 1))
        .await
        .unwrap();
    let CommitOutcome::Committed {
        table_version,
        files,
        rows,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!((table_version, rows), (0, 200_000), "one commit holding every row");
    let table = read(&lake.table_location("d"), true);
    assert_eq!(table["rows"], 200_000);
    assert_eq!(table["files"], files);
    assert_eq!(table["sums"]["id"], sum(0..200_000));
    let mut ids: Vec<i64> = table["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..200_000).collect::<Vec<_>>(), "each row exactly once");
}

/// Writes one batch once all `barrier`'s writers have passed their txn check, so every
/// writer's commit races the others'.
async fn racing(
    lake: &Lake,
    dataset: &str,
    barrier: Arc<tokio::sync::Barrier>,
    ids: std::ops::Range<i64>,
    commit: CommitSpec,
) -> CommitOutcome {
    let batches = stream::once(async move {
        barrier.wait().await;
        Ok::<_, std::io::Error>(people(ids))
    });
    lake.write(dataset, people_schema(), batches, commit)
        .await
        .expect("write")
}

#[tokio::test]
async fn concurrent_writers_commit_each_window_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_in(&dir, 128 << 20);
    for (dataset, seed) in [("fresh", 0), ("existing", 5)] {
        if seed > 0 {
            write(
                &lake,
                dataset,
                vec![people(0..seed)],
                spec(WriteMode::Append, "seed", 1),
            )
            .await;
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(3));
        let window = |ids| {
            racing(
                &lake,
                dataset,
                barrier.clone(),
                ids,
                spec(WriteMode::Append, "flow-a", 7),
            )
        };
        let other = racing(
            &lake,
            dataset,
            barrier.clone(),
            300..400,
            spec(WriteMode::Append, "flow-b", 1),
        );
        let (a, b, c) = tokio::join!(window(100..200), window(200..300), other);
        let committed = [&a, &b]
            .iter()
            .filter(|o| matches!(o, CommitOutcome::Committed { .. }))
            .count();
        assert_eq!(committed, 1, "{dataset}: {a:?} {b:?}");
        assert!(
            [&a, &b].contains(&&CommitOutcome::AlreadyCommitted { txn_version: 7 }),
            "{a:?} {b:?}"
        );
        assert!(
            matches!(c, CommitOutcome::Committed { .. }),
            "{dataset}: another app id retries: {c:?}"
        );
        let table = read(&lake.table_location(dataset), false);
        assert_eq!(
            table["rows"],
            seed + 200,
            "{dataset}: one window of flow-a, and flow-b's"
        );
        assert_eq!(table["txns"]["flow-a"], 7);
        assert_eq!(table["txns"]["flow-b"], 1);
        let on_disk = parquet_files(std::path::Path::new(&lake.table_location(dataset)));
        assert_eq!(
            on_disk,
            table["files"].as_u64().unwrap() as usize + 1,
            "the loser's file stays outside the log"
        );
    }
}
