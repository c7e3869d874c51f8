//! Maintenance on real tables in a temporary directory: rows never change, vacuum waits
//! for the retention, compaction and appends race without losing a row.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deltalake::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use deltalake::arrow::datatypes::{DataType, Field, Schema};
use futures::{StreamExt, TryStreamExt};

use super::*;
use crate::lake::files::read_file;
use crate::lake::{CommitSpec, LakeConfig, WriteMode};

fn lake(dir: &std::path::Path) -> Lake {
    let mut config = LakeConfig::new(dir.display().to_string());
    config.writers = 1;
    Lake::new(&config).unwrap()
}

fn policy(retention: Duration) -> MaintenancePolicy {
    MaintenancePolicy {
        small_file_bytes: 1024 * 1024,
        target_file_bytes: 128 * 1024 * 1024,
        min_small_files: 5,
        checkpoint_after: 10,
        retention,
    }
}

/// Appends ids `from..from + 100` as window `window` of flow `f`.
async fn append(lake: &Lake, window: i64, from: i64) {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(from..from + 100));
    let batch = RecordBatch::try_new(schema.clone(), vec![ids]).unwrap();
    let spec = CommitSpec {
        mode: WriteMode::Append,
        app_id: "f".into(),
        txn_version: window,
        run_id: format!("run-{window}"),
        batch_id: None,
        cdc_position: None,
        first_window: None,
    };
    let batches = futures::stream::iter([Ok::<_, std::io::Error>(batch)]);
    lake.write("d", schema, batches, spec).await.unwrap();
}

/// The ids of the table's current version (or of `version`), sorted.
async fn ids(lake: &Lake, version: Option<u64>) -> Vec<i64> {
    let url = lake.table_url("d").unwrap();
    let mut table = lake.builder(&url).unwrap().build().unwrap();
    match version {
        Some(version) => table.load_version(version).await.unwrap(),
        None => table.load().await.unwrap(),
    }
    let store = table.log_store().object_store(None);
    let files: Vec<(String, u64)> = table
        .snapshot()
        .unwrap()
        .snapshot()
        .file_views(table.log_store().as_ref(), None)
        .map_ok(|f| (f.path().to_string(), f.size() as u64))
        .try_collect()
        .await
        .unwrap();
    let mut out = Vec::new();
    for (path, size) in files {
        let mut batches = read_file(&store, &path, size).await.unwrap();
        while let Some(batch) = batches.next().await {
            let batch = batch.unwrap();
            let column = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            out.extend(column.values().iter().copied());
        }
    }
    out.sort_unstable();
    out
}

fn commit_entry(dir: &std::path::Path, version: u64) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(format!("d/_delta_log/{version:020}.json"))).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn orphan(dir: &std::path::Path, name: &str, age: Duration) {
    let path = dir.join("d").join(name);
    std::fs::write(&path, b"not committed").unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn compaction_keeps_every_row_and_vacuum_waits_for_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    for window in 0..12 {
        append(&lake, window + 1, window * 100).await;
    }
    let before = lake.health("d", 1024 * 1024).await.unwrap().unwrap();
    assert_eq!((before.version, before.files, before.small_files), (11, 12, 12));
    assert_eq!(
        (before.last_checkpoint, before.log_entries_since_checkpoint),
        (None, 12)
    );

    let retention = Duration::from_secs(3);
    orphan(dir.path(), "part-old-orphan.parquet", Duration::from_secs(3600));
    orphan(dir.path(), "part-new-orphan.parquet", Duration::ZERO);
    let done = lake.maintain("d", &policy(retention), false).await.unwrap();
    let compaction = done.compaction.clone().expect("12 small files are compacted");
    assert_eq!(
        (compaction.files_removed, compaction.files_added, compaction.rows),
        (12, 1, 1200)
    );
    assert_eq!(compaction.table_version, 12);
    assert_eq!(done.checkpoint, Some(12));
    assert_eq!(
        done.files_vacuumed, 1,
        "only the old orphan: the removed files are younger than the retention"
    );
    assert!(!dir.path().join("d/part-old-orphan.parquet").exists());
    assert!(dir.path().join("d/part-new-orphan.parquet").exists());

    // The compaction changed no data: every action says so, and every version reads the same.
    let entry = commit_entry(dir.path(), 12);
    let info = entry.iter().find_map(|a| a.get("commitInfo")).unwrap();
    assert_eq!(info["operation"], "OPTIMIZE");
    let files: Vec<&serde_json::Value> = entry
        .iter()
        .filter_map(|a| a.get("add").or_else(|| a.get("remove")))
        .collect();
    assert_eq!(files.len(), 13);
    assert!(files.iter().all(|f| f["dataChange"] == false), "{files:?}");
    let all: Vec<i64> = (0..1200).collect();
    assert_eq!(ids(&lake, None).await, all);
    assert_eq!(
        ids(&lake, Some(11)).await,
        all,
        "the version before, within the retention"
    );
    let after = lake.health("d", 1024 * 1024).await.unwrap().unwrap();
    assert_eq!((after.files, after.last_checkpoint), (1, Some(12)));

    // Past the retention the removed files and the new orphan go; the current version stays.
    tokio::time::sleep(retention + Duration::from_millis(500)).await;
    let done = lake.maintain("d", &policy(retention), false).await.unwrap();
    assert_eq!(done.compaction, None, "one file is nothing to compact");
    assert_eq!(done.files_vacuumed, 13);
    assert_eq!(ids(&lake, None).await, all);
}

#[tokio::test]
async fn compaction_racing_appends_loses_no_row_and_adds_none() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    append(&lake, 1, 0).await;
    let compacted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let (lake, compacted) = (lake.clone(), compacted.clone());
        tokio::spawn(async move {
            for window in 2..=40 {
                // Halfway, the appends wait for a compaction to land between them, so
                // however the races go, one compaction sits between two appends.
                while window == 21 && compacted.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                append(&lake, window, (window - 1) * 100).await;
            }
        })
    };
    let mut compactions = 0;
    while !writer.is_finished() {
        let done = lake
            .maintain("d", &policy(Duration::from_secs(3600)), true)
            .await
            .unwrap();
        compactions += usize::from(done.compaction.is_some());
        compacted.store(compactions, std::sync::atomic::Ordering::SeqCst);
    }
    writer.await.unwrap();
    let done = lake
        .maintain("d", &policy(Duration::from_secs(3600)), true)
        .await
        .unwrap();
    compactions += usize::from(done.compaction.is_some());
    assert!(compactions >= 2, "compacted {compactions} times");
    assert_eq!(ids(&lake, None).await, (0..4000).collect::<Vec<_>>());
    let health = lake.health("d", 1024 * 1024).await.unwrap().unwrap();
    assert_eq!(health.files, 1);
    assert_eq!(lake.committed_version("d", "f").await.unwrap(), Some(40));
}
