//! The fake target of the engine's unit tests: a lake in memory with the lake's txn rule.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::{Array, Int64Array};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use futures::StreamExt;

use crate::flows::failure::RunFailure;
use crate::flows::target::{Batches, Target};
use crate::lake::{
    ChangeSet, ChangeStep, CommitOutcome, CommitSpec, Evolution, LakeError, Landed, LandedCommit, WriteMode,
};
use crate::sources::changes::ChangeKind;

/// The fake source's columns: `id` and the delta column `ts`.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

/// One commit the target holds.
#[derive(Clone, Debug)]
pub struct Commit {
    pub app_id: String,
    pub txn_version: i64,
    pub run_id: String,
    pub batch_id: Option<String>,
    pub mode: WriteMode,
    pub ids: Vec<i64>,
    pub cdc_position: Option<String>,
    /// The first window of a commit landing several (`txn_version` is the last).
    pub first_window: Option<i64>,
}

/// A lake in memory with the lake's txn rule: a write whose txn version for its app is
/// not above the table's is not committed.
#[derive(Default)]
pub struct MemoryTarget {
    pub commits: Mutex<Vec<Commit>>,
    /// The next merges that fail before committing.
    pub failing_merges: AtomicUsize,
}

impl MemoryTarget {
    /// The ids the dataset holds now, sorted.
    pub fn ids(&self) -> Vec<i64> {
        let mut ids = Vec::new();
        for commit in self.commits.lock().unwrap().iter() {
            if commit.mode == WriteMode::Replace {
                ids.clear();
            }
            ids.extend(&commit.ids);
        }
        ids.sort_unstable();
        ids
    }

    /// Commits `ids` as an attempt would (used to stage an attempt that died after it).
    pub fn commit(&self, commit: Commit) {
        self.commits.lock().unwrap().push(commit);
    }

    /// Commits `ids` under `spec`'s txn, unless the txn has landed already.
    fn land(&self, spec: CommitSpec, mode: WriteMode, ids: Vec<i64>) -> CommitOutcome {
        if let Some(done) = self.txn(&spec.app_id).filter(|done| *done >= spec.txn_version) {
            return CommitOutcome::AlreadyCommitted { txn_version: done };
        }
        let rows = ids.len() as u64;
        self.commit(Commit {
            app_id: spec.app_id,
            txn_version: spec.txn_version,
            run_id: spec.run_id,
            batch_id: spec.batch_id,
            mode,
            ids,
            cdc_position: spec.cdc_position,
            first_window: spec.first_window,
        });
        CommitOutcome::Committed {
            table_version: self.commits.lock().unwrap().len() as i64 - 1,
            files: 1,
            rows,
            bytes: 8 * rows,
        }
    }

    fn txn(&self, app_id: &str) -> Option<i64> {
        let commits = self.commits.lock().unwrap();
        commits
            .iter()
            .filter(|c| c.app_id == app_id)
            .map(|c| c.txn_version)
            .max()
    }
}

#[async_trait]
impl Target for MemoryTarget {
    async fn landed(&self, _: &str, app_id: &str, window: i64) -> Result<Option<Landed>, LakeError> {
        let Some(done) = self.txn(app_id).filter(|done| *done >= window) else {
            return Ok(None);
        };
        let commits = self.commits.lock().unwrap();
        let commit = commits.iter().enumerate().find(|(_, c)| {
            c.app_id == app_id && (c.first_window.unwrap_or(c.txn_version)..=c.txn_version).contains(&window)
        });
        Ok(Some(Landed {
            txn_version: done,
            commit: commit.map(|(version, c)| LandedCommit {
                table_version: version as i64,
                run_id: Some(c.run_id.clone()),
                batch_id: c.batch_id.clone(),
                rows: c.ids.len() as u64,
                files: 1,
                bytes: 8 * c.ids.len() as u64,
                cdc_position: c.cdc_position.clone(),
            }),
        }))
    }

    async fn write(
        &self,
        _: &str,
        _: (SchemaRef, &Evolution),
        mut batches: Batches,
        spec: CommitSpec,
    ) -> Result<CommitOutcome, LakeError> {
        let mut ids = Vec::new();
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|failure: RunFailure| LakeError::Input(Box::new(failure)))?;
            let column = batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            ids.extend(column.values().iter().copied());
        }
        let mode = spec.mode;
        Ok(self.land(spec, mode, ids))
    }

    async fn merge(&self, _: &str, changes: ChangeSet, spec: CommitSpec) -> Result<CommitOutcome, LakeError> {
        if self.failing_merges.load(Ordering::SeqCst) > 0 {
            self.failing_merges.fetch_sub(1, Ordering::SeqCst);
            return Err(LakeError::Conflict {
                dataset: "d".into(),
                attempts: 1,
            });
        }
        Ok(self.land(spec, WriteMode::Append, upserted_ids(&changes)))
    }

    async fn txn_version(&self, _: &str, app_id: &str) -> Result<Option<i64>, LakeError> {
        Ok(self.txn(app_id))
    }

    async fn schema(&self, _: &str) -> Result<Option<SchemaRef>, LakeError> {
        Ok(Some(schema()))
    }
}

/// The ids of the rows a change set inserts or updates (the fake target's merge).
fn upserted_ids(changes: &ChangeSet) -> Vec<i64> {
    let mut ids = Vec::new();
    for step in &changes.steps {
        if let ChangeStep::Rows(chunk) = step {
            let column = chunk.batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            let kept = (0..column.len()).filter(|&i| chunk.kinds[i] != ChangeKind::Delete);
            ids.extend(kept.map(|i| column.value(i)));
        }
    }
    ids
}
