//! How an attempt's write ends up on record: its batch's final state, the run's output
//! counts, and the truth about a window that landed without this attempt knowing (an
//! earlier attempt committed and then died, or storage reported a failure for a commit
//! that landed). Every batch reaches a final state: one whose attempt died is closed by
//! the next attempt, as `success` if its commit is in the table, else as `failed`.

use super::engine::{Engine, catalog_failure};
use super::failure::RunFailure;
use super::plan::RunPlan;
use crate::catalog::{self, BatchIssue, BatchResult, BatchStatus, CatalogError};
use crate::lake::{CommitOutcome, Landed, LandedCommit};
use crate::store::RunRow;

/// The code on a batch whose attempt stopped before it committed.
pub const ATTEMPT_INTERRUPTED: &str = "ATTEMPT_INTERRUPTED";
/// The code on a batch whose window another attempt landed.
pub const WINDOW_LANDED_ELSEWHERE: &str = "WINDOW_LANDED_ELSEWHERE";

impl Engine {
    /// Records a window found landed before this attempt wrote anything.
    pub(super) async fn recover(&self, run: &mut RunRow, landed: &Landed) -> Result<(), RunFailure> {
        let commit = landed.commit.as_ref();
        self.conclude_commit_batch(run, commit).await?;
        let mine = commit.is_some_and(|c| c.run_id.as_deref() == Some(run.id.as_str()));
        let note = match commit {
            Some(commit) if mine => {
                self.record_output(run, commit);
                format!(
                    "an earlier attempt of this run committed the window (Delta version {}) and stopped before it \
                     recorded its end; nothing was written again",
                    commit.table_version
                )
            }
            Some(commit) => format!(
                "the window had already landed (Delta version {}, run {}); nothing was written again",
                commit.table_version,
                commit.run_id.as_deref().unwrap_or("unknown")
            ),
            None => "the window had already landed in the dataset; nothing was written again".to_string(),
        };
        run.details.metrics.status_summary.note = Some(note);
        Ok(())
    }

    /// Closes the batches of earlier attempts of this run that died before committing.
    pub(super) async fn close_interrupted_batches(&self, run: &RunRow) -> Result<(), RunFailure> {
        let failed = failed_batch(
            ATTEMPT_INTERRUPTED,
            "the attempt writing this batch stopped before it committed (its process was killed or it lost its \
             lease); none of its rows are in the dataset",
        );
        self.close_batches_but(run, None, &failed).await
    }

    /// Closes every batch of the run but `kept` that is still open (closing a closed one
    /// changes nothing).
    async fn close_batches_but(
        &self,
        run: &RunRow,
        kept: Option<&str>,
        result: &BatchResult,
    ) -> Result<(), RunFailure> {
        for batch in run.details.batches.iter().filter(|batch| Some(batch.as_str()) != kept) {
            self.conclude(run, batch, result, false).await?;
        }
        Ok(())
    }

    /// Records how the attempt's own write (as batch `batch_id`) ended.
    pub(super) async fn settle(
        &self,
        run: &mut RunRow,
        plan: &RunPlan,
        batch_id: &str,
        written: Result<CommitOutcome, RunFailure>,
    ) -> Result<(), RunFailure> {
        let outcome = match written {
            Ok(outcome) => outcome,
            Err(failure) => {
                let result = failed_batch(&failure.code, &failure.message);
                self.conclude(run, batch_id, &result, false).await?;
                return Err(failure);
            }
        };
        match outcome {
            CommitOutcome::Committed {
                table_version,
                files,
                rows,
                bytes,
            } => {
                let commit = LandedCommit {
                    table_version,
                    rows,
                    files: files as u64,
                    bytes,
                    ..LandedCommit::default()
                };
                self.conclude(run, batch_id, &success(&commit), false).await?;
                self.record_output(run, &commit);
            }
            CommitOutcome::AlreadyCommitted { .. } => {
                // Landed meanwhile: by this very write (storage reported a failure for a
                // commit that landed), or by another attempt of the window.
                let landed = self
                    .target
                    .landed(&plan.dataset_id, &plan.flow.id, run.window_number)
                    .await?;
                let commit = landed.and_then(|l| l.commit);
                if commit.as_ref().is_some_and(|c| c.batch_id.as_deref() == Some(batch_id)) {
                    self.conclude_commit_batch(run, commit.as_ref()).await?;
                    self.record_output(run, commit.as_ref().expect("checked above"));
                } else {
                    self.conclude_commit_batch(run, commit.as_ref()).await?;
                    run.details.metrics.status_summary.note =
                        Some("another attempt committed this window first; nothing was written again".into());
                }
            }
        }
        self.observe_schema(run, plan).await;
        Ok(())
    }

    /// Makes the batch of the commit that landed the window `success` (it may have been
    /// closed as failed by an attempt that did not see the commit yet), and closes the
    /// run's other batches.
    async fn conclude_commit_batch(&self, run: &RunRow, commit: Option<&LandedCommit>) -> Result<(), RunFailure> {
        let committed = commit.and_then(|c| c.batch_id.as_deref().map(|batch| (c, batch)));
        if let Some((commit, batch)) = committed {
            self.conclude(run, batch, &success(commit), true).await?;
        }
        let others = failed_batch(
            WINDOW_LANDED_ELSEWHERE,
            "the window landed through another batch; this batch's rows were not committed",
        );
        self.close_batches_but(run, committed.map(|(_, batch)| batch), &others)
            .await
    }

    /// Gives a batch its final state; `correct` lets a batch closed as failed become a
    /// success when its commit turns out to have landed.
    async fn conclude(&self, run: &RunRow, batch: &str, result: &BatchResult, correct: bool) -> Result<(), RunFailure> {
        match catalog::finish_batch(&self.store, &run.tenant, batch, result, correct).await {
            // Deleted with its dataset: nothing is left to close.
            Err(CatalogError::BatchNotFound(_)) => Ok(()),
            other => other.map_err(catalog_failure),
        }
    }

    fn record_output(&self, run: &mut RunRow, commit: &LandedCommit) {
        let metrics = &mut run.details.metrics;
        metrics.record_summary.output_record_count = commit.rows;
        metrics.size_summary.output_bytes = commit.bytes;
        metrics.file_summary.output_file_count = commit.files;
        run.details.delta_version = Some(commit.table_version);
        self.metrics.rows_written(commit.rows);
    }

    /// Records the dataset's columns after a write; a failure only costs the catalog's
    /// copy of the schema, so it is logged.
    async fn observe_schema(&self, run: &RunRow, plan: &RunPlan) {
        let schema = match self.target.schema(&plan.dataset_id).await {
            Ok(Some(schema)) => schema,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(run = %run.id, %error, "reading the dataset's schema failed");
                return;
            }
        };
        if let Err(error) = catalog::set_observable_schema(&self.store, &run.tenant, &plan.dataset_id, &schema).await {
            tracing::warn!(run = %run.id, %error, "recording the dataset's observable schema failed");
        }
    }
}

fn success(commit: &LandedCommit) -> BatchResult {
    BatchResult {
        status: BatchStatus::Success,
        record_count: commit.rows,
        table_version: Some(commit.table_version),
        errors: Vec::new(),
    }
}

fn failed_batch(code: &str, message: &str) -> BatchResult {
    BatchResult {
        status: BatchStatus::Failed,
        record_count: 0,
        table_version: None,
        errors: vec![BatchIssue {
            code: code.to_string(),
            description: message.to_string(),
        }],
    }
}
