//! Workers: claim due runs from the metadata store with a lease, keep the lease alive
//! while the run executes, and record how it ended. A run whose worker died is claimed
//! again once its lease lapses; the engine's txn check makes the redo exactly-once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::engine::{self, Outcome};
use crate::app::AppState;
use crate::store::{RunRow, now_millis};

/// Runs `count` workers named after `process` until `stop` is cancelled.
pub async fn run(state: AppState, process: String, count: usize, stop: CancellationToken) {
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..count.max(1) {
        let owner = format!("{process}/{index}");
        workers.spawn(work(state.clone(), owner, stop.clone()));
    }
    while workers.join_next().await.is_some() {}
}

async fn work(state: AppState, owner: String, stop: CancellationToken) {
    let lease = state.config.run_lease;
    loop {
        let claimed = state
            .store
            .claim_run(
                &owner,
                state.clock.now(),
                now_millis(),
                now_millis() + lease.as_millis() as i64,
            )
            .await;
        match claimed {
            Ok(Some(run)) => {
                let run_id = run.id.clone();
                tokio::select! {
                    _ = stop.cancelled() => {
                        tracing::info!(run = %run_id, "stopping: the run's lease will lapse and another worker will take it");
                        return;
                    }
                    _ = execute_with_lease(&state, &owner, run) => {}
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(state.config.poll_interval) => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "claiming a run failed; will retry");
                tokio::time::sleep(state.config.poll_interval).await;
            }
        }
    }
}

/// Executes a claimed run while renewing its lease; if the lease is lost (another worker
/// took the run after this one stalled), the execution is abandoned.
async fn execute_with_lease(state: &AppState, owner: &str, run: RunRow) {
    let lost = CancellationToken::new();
    let heartbeat = tokio::spawn(renew(state.clone(), run.id.clone(), owner.to_string(), lost.clone()));
    let run_id = run.id.clone();
    tokio::select! {
        _ = lost.cancelled() => tracing::warn!(run = %run_id, "lease lost; abandoning the run"),
        _ = execute_with_retries(state, owner, run) => {}
    }
    heartbeat.abort();
}

async fn renew(state: AppState, run_id: String, owner: String, lost: CancellationToken) {
    let lease = state.config.run_lease;
    loop {
        tokio::time::sleep(lease / 3).await;
        match state
            .store
            .renew_lease(&run_id, &owner, now_millis() + lease.as_millis() as i64)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(error) => tracing::warn!(run = %run_id, %error, "renewing the lease failed; will retry"),
        }
    }
}

/// Transient failures (connection reset, timeout) are retried with exponential backoff a
/// bounded number of times; permanent ones (authentication, missing table) end the run.
async fn execute_with_retries(state: &AppState, owner: &str, mut run: RunRow) {
    let attempts = state.config.run_attempts.max(1);
    let mut backoff = state.config.retry_backoff;
    for attempt in 1..=attempts {
        let outcome = engine::execute(state, owner, &mut run).await;
        match outcome {
            Outcome::Failed(error) if error.transient && attempt < attempts => {
                tracing::warn!(run = %run.id, attempt, code = %error.code, "transient failure; retrying in {backoff:?}");
                engine::note_retry(&mut run, attempt, &error);
                let _ = state.store.save_run(&run, owner, false).await;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
            outcome => {
                finish(state, owner, &mut run, outcome).await;
                return;
            }
        }
    }
}

async fn finish(state: &AppState, owner: &str, run: &mut RunRow, outcome: Outcome) {
    let now = now_millis();
    match &outcome {
        Outcome::Succeeded => run.status = "success".into(),
        Outcome::Failed(error) => {
            run.status = "failed".into();
            run.doc["metrics"]["statusSummary"]["errors"] = json!([{"code": error.code, "message": error.message}]);
        }
        Outcome::Postponed { due_at } => {
            run.status = "scheduled".into();
            run.due_at = *due_at;
        }
        Outcome::Cancelled => run.status = "cancelled".into(),
    }
    run.doc["metrics"]["statusSummary"]["status"] = json!(run.status);
    if !matches!(outcome, Outcome::Postponed { .. }) {
        run.doc["metrics"]["durationSummary"]["completedAtUTC"] = json!(now);
    }
    run.updated_at = now;
    run.etag = format!("\"{}\"", uuid::Uuid::new_v4());
    state.metrics.run_finished(&run.status);
    match state.store.save_run(run, owner, true).await {
        Ok(true) => tracing::info!(run = %run.id, status = %run.status, "run ended"),
        Ok(false) => tracing::warn!(run = %run.id, "the run's lease was lost before its end was recorded"),
        Err(error) => {
            tracing::error!(run = %run.id, %error, "recording the run's end failed; its lease will lapse and it will be redone")
        }
    }
}

/// Whether a worker pool should run in this process.
pub fn enabled(workers: usize) -> bool {
    workers > 0
}

/// A process identity for lease owners: host name and process id.
pub fn process_name() -> Arc<str> {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "host".into());
    format!("{}:{}", host.trim(), std::process::id()).into()
}
