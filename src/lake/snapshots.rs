//! The newest snapshot of each table of a local lake this process opened, kept for a short
//! while (an S3 lake loads its tables afresh: see `Lake::open`). Opening
//! a table again then reads only the commits made since (`update_incremental`) instead of
//! its last checkpoint and every commit after it, so the few looks a run takes at its
//! table (has the window landed, the write, the schema after it) cost a listing and the
//! new commits, whatever the table's age.
//!
//! An entry not refreshed for [`MAX_IDLE`] is dropped and the table loaded afresh. So the
//! commits an incremental update reads were all made less than [`MAX_IDLE`] ago, and log
//! cleanup (which removes only commits older than the table's log retention, 30 days by
//! default) can never have removed one of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use url::Url;

/// How long a snapshot is kept without being refreshed.
pub(super) const MAX_IDLE: Duration = Duration::from_secs(60);

/// Snapshots by table URL, each with when it was last brought up to date.
#[derive(Default)]
pub(super) struct Snapshots {
    tables: Mutex<HashMap<Url, (Instant, DeltaTable)>>,
}

impl Snapshots {
    /// The table's snapshot, if one was brought up to date within [`MAX_IDLE`].
    pub(super) fn get(&self, url: &Url) -> Option<DeltaTable> {
        let tables = self.tables.lock().expect("snapshot cache");
        tables
            .get(url)
            .filter(|(at, _)| at.elapsed() < MAX_IDLE)
            .map(|(_, table)| table.clone())
    }

    /// Keeps `table` (just brought up to date) unless a newer version is kept already;
    /// drops entries idle for too long.
    pub(super) fn put(&self, url: &Url, table: &DeltaTable) {
        let mut tables = self.tables.lock().expect("snapshot cache");
        tables.retain(|_, (at, _)| at.elapsed() < MAX_IDLE);
        let newer = tables
            .get(url)
            .is_some_and(|(_, kept)| kept.version() > table.version());
        if !newer {
            tables.insert(url.clone(), (Instant::now(), table.clone()));
        }
    }

    /// Forgets the table's snapshot (after a failed refresh).
    pub(super) fn forget(&self, url: &Url) {
        self.tables.lock().expect("snapshot cache").remove(url);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use deltalake::arrow::array::{ArrayRef, Int64Array, RecordBatch};
    use deltalake::arrow::datatypes::{DataType, Field, Schema};

    use crate::lake::{CommitOutcome, CommitSpec, Lake, LakeConfig, WriteMode};

    async fn append(lake: &Lake, window: i64) -> CommitOutcome {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values([window]));
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
        lake.write("d", schema, batches, spec).await.unwrap()
    }

    /// Two lakes on one directory stand for two processes: each one's kept snapshot is
    /// brought up to date with the other's commits, so no window is written twice.
    #[tokio::test]
    async fn a_kept_snapshot_sees_every_later_commit_of_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let config = LakeConfig::new(dir.path().display().to_string());
        let (a, b) = (Lake::new(&config).unwrap(), Lake::new(&config).unwrap());
        append(&a, 1).await;
        assert_eq!(a.committed_version("d", "f").await.unwrap(), Some(1));
        for window in 2..=4 {
            append(&b, window).await;
        }
        assert_eq!(a.committed_version("d", "f").await.unwrap(), Some(4), "b's commits");
        assert_eq!(
            append(&a, 3).await,
            CommitOutcome::AlreadyCommitted { txn_version: 4 },
            "a window b landed is not written again"
        );
        match append(&a, 5).await {
            CommitOutcome::Committed { table_version, .. } => assert_eq!(table_version, 4),
            other => panic!("{other:?}"),
        }
        assert_eq!(b.committed_version("d", "f").await.unwrap(), Some(5));
    }
}
