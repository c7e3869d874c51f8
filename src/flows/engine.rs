//! The run engine: one attempt at one run. It reads the window's rows from the source
//! as Arrow batches, applies the flow's mapping, and hands the stream to the lake, which
//! writes Parquet files and makes exactly one Delta commit carrying the flow's txn.
//!
//! Before reading, the engine asks the lake whether the window already landed (its txn
//! version is at least the window's number): a run redone after a crash, or repeated by
//! hand, then writes nothing. Window bounds are checked against the source's clock.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use super::model::Flow;
use super::partial;
use super::plan::RunPlan;
use crate::app::AppState;
use crate::catalog::{self, BatchIssue, BatchResult, BatchStatus};
use crate::lake::{CommitOutcome, CommitSpec, LakeError, WriteMode};
use crate::mapping::apply::MappingPlan;
use crate::sources::SourceError;
use crate::sources::read::{ReadProgress, ReadRequest, WindowFilter};
use crate::sources::source::{Source, open};
use crate::store::{RunRow, now_millis};

/// How an attempt ended.
#[derive(Debug)]
pub enum Outcome {
    Succeeded,
    Failed(RunFailure),
    /// The window is not yet complete by the source's clock: run again at `due_at`.
    Postponed {
        due_at: i64,
    },
    /// The flow was deleted or disabled before the run started.
    Cancelled,
}

/// A classified failure, as `statusSummary.errors` shows it.
#[derive(Debug, Clone)]
pub struct RunFailure {
    pub code: String,
    pub message: String,
    pub transient: bool,
}

impl RunFailure {
    fn new(code: &str, message: impl Into<String>) -> RunFailure {
        RunFailure {
            code: code.to_string(),
            message: message.into(),
            transient: false,
        }
    }

    /// A failure that retrying cannot mend (configuration, authentication, data).
    pub fn new_permanent(code: &str, message: impl Into<String>) -> RunFailure {
        RunFailure::new(code, message)
    }

    /// A failure inside Inlet (its metadata store): worth retrying.
    pub fn internal(error: impl std::fmt::Display) -> RunFailure {
        RunFailure {
            code: "INTERNAL".into(),
            message: format!("Inlet failed: {error}"),
            transient: true,
        }
    }
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for RunFailure {}

impl From<LakeError> for RunFailure {
    fn from(error: LakeError) -> RunFailure {
        match error {
            // The stream's own failure (the source, the mapping) comes back through the lake.
            LakeError::Input(inner) => match inner.downcast::<RunFailure>() {
                Ok(failure) => *failure,
                Err(other) => RunFailure::new("INPUT_FAILED", other.to_string()),
            },
            LakeError::Conflict { .. } | LakeError::Delta(_) => RunFailure {
                code: "LAKE_FAILED".into(),
                message: error.to_string(),
                transient: true,
            },
            other => RunFailure::new("LAKE_REJECTED", other.to_string()),
        }
    }
}

impl From<SourceError> for RunFailure {
    fn from(error: SourceError) -> RunFailure {
        RunFailure {
            code: format!("SOURCE_{}", error.kind.code()),
            transient: error.kind.is_transient(),
            message: error.message,
        }
    }
}

/// Records a failed attempt that will be retried, so the run shows it while waiting.
pub fn note_retry(run: &mut RunRow, attempt: u32, failure: &RunFailure) {
    run.doc["metrics"]["statusSummary"]["retries"] = json!(attempt);
    run.doc["metrics"]["statusSummary"]["lastError"] = json!({"code": failure.code, "message": failure.message});
}

/// Makes one attempt at `run`, held by `owner`.
pub async fn execute(state: &AppState, owner: &str, run: &mut RunRow) -> Outcome {
    match attempt(state, owner, run).await {
        Ok(outcome) => outcome,
        Err(failure) => {
            tracing::warn!(run = %run.id, code = %failure.code, message = %failure.message, "run attempt failed");
            Outcome::Failed(failure)
        }
    }
}

async fn attempt(state: &AppState, owner: &str, run: &mut RunRow) -> Result<Outcome, RunFailure> {
    let Some(plan) = RunPlan::load(state, run).await? else {
        return Ok(Outcome::Cancelled);
    };
    let source = open(plan.source_config.clone(), state.config.source_options());
    if let Some(due_at) = postpone_until(state, source.as_ref(), run).await? {
        return Ok(Outcome::Postponed { due_at });
    }
    let dataset = plan.dataset_id.as_str();
    let landed = state.lake.committed_version(dataset, &plan.flow.id).await?;
    if landed.is_some_and(|version| version >= run.window_number) {
        tracing::info!(run = %run.id, window = run.window_number, "window already landed; nothing to write");
        run.doc["metrics"]["statusSummary"]["note"] =
            json!("this window had already landed in the dataset; nothing was written again");
        return Ok(Outcome::Succeeded);
    }
    let batch_id = catalog::create_batch(&state.store, &run.tenant, dataset, &run.id, &plan.flow.id)
        .await
        .map_err(RunFailure::internal)?;
    start(state, owner, run, &batch_id).await;
    let result = copy(state, owner, run, &plan, source.as_ref()).await;
    let (status, record_count, table_version) = match &result {
        Ok(CommitOutcome::Committed {
            table_version, rows, ..
        }) => (BatchStatus::Success, *rows, Some(*table_version)),
        Ok(CommitOutcome::AlreadyCommitted { .. }) => (BatchStatus::Success, 0, None),
        Err(_) => (BatchStatus::Failed, 0, None),
    };
    let errors = match &result {
        Err(failure) => vec![BatchIssue {
            code: failure.code.clone(),
            description: failure.message.clone(),
        }],
        Ok(_) => Vec::new(),
    };
    let batch = BatchResult {
        status,
        record_count,
        table_version,
        errors,
    };
    catalog::finish_batch(&state.store, &run.tenant, &batch_id, &batch)
        .await
        .map_err(RunFailure::internal)?;
    match result? {
        CommitOutcome::Committed {
            table_version,
            files,
            rows,
            bytes,
        } => {
            let metrics = &mut run.doc["metrics"];
            metrics["recordSummary"]["outputRecordCount"] = json!(rows);
            metrics["sizeSummary"]["outputBytes"] = json!(bytes);
            metrics["fileSummary"]["outputFileCount"] = json!(files);
            run.doc["activities"][0]["deltaVersion"] = json!(table_version);
            state.metrics.rows_written(rows);
            if let Ok(Some(schema)) = state.lake.table_schema(dataset).await {
                let _ = catalog::set_observable_schema(&state.store, &run.tenant, dataset, schema.as_ref()).await;
            }
        }
        CommitOutcome::AlreadyCommitted { .. } => {
            run.doc["metrics"]["statusSummary"]["note"] =
                json!("another attempt committed this window first; nothing was written again");
        }
    }
    Ok(Outcome::Succeeded)
}

/// `Some(due_at)` when the window's end, plus the settle lag, is still ahead of the
/// source's own clock: rows stamped near the end may not have committed yet.
async fn postpone_until(state: &AppState, source: &dyn Source, run: &RunRow) -> Result<Option<i64>, RunFailure> {
    let Some(end) = run.window_end else { return Ok(None) };
    let lag = state.config.settle_lag.as_micros() as i64;
    let source_now = source.clock().await?;
    let ready_at = end * 1_000_000 + lag;
    if source_now >= ready_at {
        return Ok(None);
    }
    let wait = (ready_at - source_now + 999_999) / 1_000_000;
    Ok(Some(state.clock.now() + wait))
}

/// Marks the run started and names its batch in its activity.
async fn start(state: &AppState, owner: &str, run: &mut RunRow, batch_id: &str) {
    run.doc["metrics"]["durationSummary"]["startedAtUTC"] = json!(now_millis());
    run.doc["metrics"]["statusSummary"]["status"] = json!("inProgress");
    run.doc["activities"][0]["targetInfo"] =
        json!([{"type": "TargetConnection", "reference": {"type": "Batch", "ids": [batch_id]}}]);
    let _ = state.store.save_run(run, owner, false).await;
}

async fn copy(
    state: &AppState,
    owner: &str,
    run: &mut RunRow,
    plan: &RunPlan,
    source: &dyn Source,
) -> Result<CommitOutcome, RunFailure> {
    // Held until the write ends: the read's connections close with its stream.
    let slots = state
        .source_slots
        .acquire(&plan.source_config, state.config.source_partitions)
        .await;
    let request = read_request(state, run, &plan.flow, plan, slots.count());
    let read = source.read(&request).await?;
    let mapping = match &plan.mapping {
        Some(set) => Some(
            MappingPlan::new(&read.schema, &set.mappings)
                .map_err(|e| RunFailure::new("MAPPING_INVALID", e.to_string()))?,
        ),
        None => None,
    };
    let schema = mapping.as_ref().map_or(read.schema.clone(), MappingPlan::output_schema);
    let progress = read.progress.clone();
    let batches = read.batches.map(move |batch| {
        let batch = batch.map_err(RunFailure::from)?;
        match &mapping {
            Some(plan) => plan
                .apply(&batch)
                .map_err(|e| RunFailure::new("MAPPING_FAILED", e.to_string())),
            None => Ok(batch),
        }
    });
    let batches = partial::guarded(batches, progress.clone(), &plan.flow);
    let spec = CommitSpec {
        mode: if plan.flow.delta_column.is_some() {
            WriteMode::Append
        } else {
            WriteMode::Replace
        },
        app_id: plan.flow.id.clone(),
        txn_version: run.window_number,
        run_id: run.id.clone(),
    };
    let write = state.lake.write(&plan.dataset_id, schema, batches, spec);
    let outcome = report_progress(state, owner, run, &progress, write).await;
    record_input(run, &progress);
    partial::record(run, &progress, &plan.flow);
    state.metrics.bytes_read(progress.bytes());
    Ok(outcome?)
}

/// Awaits `write`, saving the run's growing counts every second meanwhile.
async fn report_progress<T>(
    state: &AppState,
    owner: &str,
    run: &mut RunRow,
    progress: &ReadProgress,
    write: impl Future<Output = T>,
) -> T {
    tokio::pin!(write);
    loop {
        tokio::select! {
            result = &mut write => return result,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                record_input(run, progress);
                let _ = state.store.save_run(run, owner, false).await;
            }
        }
    }
}

/// Rows read (skipped ones included) and skipped, and bytes received.
fn record_input(run: &mut RunRow, progress: &ReadProgress) {
    let failed = progress.failed_rows();
    run.doc["metrics"]["recordSummary"]["inputRecordCount"] = json!(progress.rows() + failed);
    run.doc["metrics"]["recordSummary"]["failedRecordCount"] = json!(failed);
    run.doc["metrics"]["sizeSummary"]["inputBytes"] = json!(progress.bytes());
}

fn read_request(state: &AppState, run: &RunRow, flow: &Flow, plan: &RunPlan, partitions: usize) -> ReadRequest {
    let window = flow.delta_column.as_ref().map(|column| WindowFilter {
        column: column.name.clone(),
        start: run.window_start.map(|s| s * 1_000_000),
        end: run.window_end.map(|s| s * 1_000_000),
        timezone: column.timezone.clone(),
    });
    ReadRequest {
        table: plan.table.clone(),
        columns: plan.columns.clone(),
        window,
        partitions,
        batch_rows: state.config.batch_rows,
        channel_depth: 2,
        on_bad_value: partial::on_bad_value(flow),
    }
}
