//! Workers: claim runs from the metadata store with a lease, keep the lease alive while
//! the run executes, and record how it ended. Every attempt is a claim, so attempts count
//! across processes: a transient failure gives the run back to wait for its retry (any
//! process may take it), and a run whose worker died is claimed again once its lease
//! lapses, until `run_attempts` claims have been spent; the next claim only checks whether
//! the window landed and otherwise fails the run with `RUN_ABANDONED`.

use crate::alerts::{AlertEvent, EventKind};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::engine::{Engine, Outcome};
use super::model::{FLOW_KIND, Flow};
use crate::store::{Lease, RunRow, RunStatus, Store, StoreError, WallTimes, new_etag};

/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Runs `count` workers named after `process` until `stop` is cancelled.
pub async fn run(engine: Arc<Engine>, process: String, count: usize, stop: CancellationToken) {
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..count.max(1) {
        let owner = format!("{process}/{index}");
        workers.spawn(work(engine.clone(), owner, stop.clone()));
    }
    while workers.join_next().await.is_some() {}
}

async fn work(engine: Arc<Engine>, owner: String, stop: CancellationToken) {
    loop {
        let worked = tokio::select! {
            _ = stop.cancelled() => {
                tracing::info!(%owner, "stopping: a run in progress is given up; its lease will lapse and another worker will take it");
                return;
            }
            worked = work_once(&engine, &owner) => worked,
        };
        match worked {
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "claiming a run failed; will retry"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(engine.settings.poll_interval) => {}
        }
    }
}

/// Claims one run for `owner` and carries out one attempt at it under a lease; returns the
/// run as recorded afterwards, or `None` when no run could be claimed.
pub async fn work_once(engine: &Engine, owner: &str) -> Result<Option<RunRow>, StoreError> {
    let now = engine.clock.wall_millis();
    let wall = WallTimes {
        now,
        lease_until: now + engine.settings.run_lease.as_millis() as i64,
    };
    let Some(run) = engine.store.claim_run(owner, engine.clock.now(), wall).await? else {
        return Ok(None);
    };
    tracing::info!(run = %run.id, flow = %run.flow_id, window = run.window_number, attempt = run.attempts, "run claimed");
    Ok(Some(execute_with_lease(engine, owner, run).await))
}

/// Executes a claimed run while renewing its lease; if the lease is lost (another worker
/// took the run after this one stalled), the attempt is abandoned.
async fn execute_with_lease(engine: &Engine, owner: &str, mut run: RunRow) -> RunRow {
    let lost = CancellationToken::new();
    let heartbeat = tokio::spawn(renew(
        engine.store.clone(),
        engine.clock.clone(),
        engine.settings.run_lease,
        (run.id.clone(), owner.to_string()),
        lost.clone(),
    ));
    let outcome = tokio::select! {
        _ = lost.cancelled() => None,
        outcome = engine.execute(owner, &mut run) => Some(outcome),
    };
    heartbeat.abort();
    match outcome {
        Some(outcome) => finish(engine, owner, &mut run, outcome).await,
        None => tracing::warn!(run = %run.id, "lease lost; the attempt was abandoned"),
    }
    run
}

async fn renew(
    store: Store,
    clock: Arc<dyn Clock>,
    lease: Duration,
    (run_id, owner): (String, String),
    lost: CancellationToken,
) {
    loop {
        tokio::time::sleep(lease / 3).await;
        let until = clock.wall_millis() + lease.as_millis() as i64;
        match store.renew_lease(&run_id, &owner, until).await {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(error) => tracing::warn!(run = %run_id, %error, "renewing the lease failed; will retry"),
        }
    }
}

/// Records how the attempt ended and gives the lease up.
pub async fn finish(engine: &Engine, owner: &str, run: &mut RunRow, outcome: Outcome) {
    let now = engine.clock.wall_millis();
    let attempts_left = run.attempts < i64::from(engine.settings.run_attempts.max(1));
    let summary = &mut run.details.metrics.status_summary;
    match outcome {
        Outcome::Succeeded => {
            run.status = RunStatus::Success;
            summary.last_error = None;
        }
        Outcome::Failed(failure) if failure.transient && attempts_left => {
            let backoff = backoff(engine.settings.retry_backoff, run.attempts);
            tracing::warn!(run = %run.id, attempt = run.attempts, code = %failure.code, "transient failure; retrying in {backoff:?}");
            run.status = RunStatus::Scheduled;
            run.retry_at = Some(now + backoff.as_millis() as i64);
            summary.retries = Some(run.attempts as u32);
            summary.last_error = Some(failure.to_error());
        }
        Outcome::Failed(failure) => {
            run.status = RunStatus::Failed;
            summary.last_error = None;
            summary.errors = vec![failure.to_error()];
        }
        Outcome::Postponed { due_at } => {
            // Waiting for the source's clock is no failed attempt.
            run.status = RunStatus::Scheduled;
            run.due_at = due_at;
            run.attempts -= 1;
        }
        Outcome::Cancelled => run.status = RunStatus::Cancelled,
    }
    if run.status.has_ended() {
        run.details.metrics.duration_summary.completed_at_utc = Some(now);
        engine.metrics.run_finished(run.status.as_str());
    }
    run.updated_at = now;
    run.etag = new_etag();
    // The event that reports the end is written with it (the outbox): never one without the other.
    let events: Vec<AlertEvent> = EventKind::of_run_end(run)
        .into_iter()
        .map(|kind| AlertEvent::of_run(kind, run, now))
        .collect();
    match engine
        .store
        .save_run_with_events(run, owner, Lease::Release, &events)
        .await
    {
        Ok(true) => tracing::info!(run = %run.id, status = %run.status, "run attempt recorded"),
        Ok(false) => tracing::warn!(run = %run.id, "the run's lease was lost before its end was recorded"),
        Err(error) => {
            tracing::error!(run = %run.id, %error, "recording the run's end failed; its lease will lapse and it will be redone")
        }
    }
    if run.status == RunStatus::Cancelled {
        resume_if_enabled(&engine.store, run).await;
    }
}

/// A run found its flow disabled and was cancelled; if the flow was enabled again
/// meanwhile, its enabling may have missed this run, so the flow's cancelled runs are
/// scheduled again here.
async fn resume_if_enabled(store: &Store, run: &RunRow) {
    let enabled = match store.get_resource(FLOW_KIND, &run.tenant, &run.flow_id).await {
        Ok(Some(row)) => Flow::from_row(&row).is_ok_and(|flow| flow.enabled),
        Ok(None) => false,
        Err(error) => {
            tracing::warn!(run = %run.id, %error, "reading the cancelled run's flow failed");
            false
        }
    };
    if enabled && let Err(error) = store.resume_cancelled_runs(&run.flow_id, run.updated_at).await {
        tracing::warn!(run = %run.id, %error, "scheduling the flow's cancelled runs again failed");
    }
}

/// The wait before the retry that follows attempt `attempt` (from 1): `first`, doubled for
/// each further attempt, at most a minute.
fn backoff(first: Duration, attempt: i64) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(u32::MAX).min(16);
    first.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

/// A process identity for lease owners: host name and process id.
pub fn process_name() -> Arc<str> {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "host".into());
    format!("{}:{}", host.trim(), std::process::id()).into()
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let first = Duration::from_secs(2);
        assert_eq!(backoff(first, 1), Duration::from_secs(2));
        assert_eq!(backoff(first, 3), Duration::from_secs(8));
        assert_eq!(backoff(first, 40), Duration::from_secs(60));
    }
}
