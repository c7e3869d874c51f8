//! Catch-up in few commits. When a flow's next windows are due as well (after downtime,
//! or a flow created with its start in the past), the run of the earliest claims them as
//! its *followers* and lands them all in one Delta commit: each window is still read by
//! its own query (so each run counts its own rows), one after another into the same
//! write, and the commit carries the last window's txn version with the first recorded
//! beside it (`inletWindows`). Exactly once holds as for one window: the commit lands
//! every window of it or none, "txn version ≥ window" still says whether a window landed,
//! and a window found landed names the commit that landed it (`lake/landed.rs`).
//!
//! Only plain windowed appends lead: not change data capture, `mergeByKey`, a resnapshot
//! or partial ingestion (their runs keep their own commits), and only on a run's first
//! attempt, so a batch that fails is retried window by window. Followers are runs never
//! attempted, contiguous with the window before them, due, and settled by the source's
//! clock as last read. A batch that does not commit gives its followers back unattempted.

use std::sync::{Arc, Mutex};

use futures::StreamExt;

use super::engine::Engine;
use super::failure::RunFailure;
use super::plan::RunPlan;
use super::target::Batches;
use crate::alerts::{AlertEvent, EventKind};
use crate::lake::{CommitOutcome, WriteMode};
use crate::mapping::apply::MappingPlan;
use crate::sources::read::{ReadProgress, ReadRequest};
use crate::sources::source::Source;
use crate::store::{Lease, RunRow, RunStatus, WallTimes, new_etag};

/// The followers' reads as they are opened: each window's progress, in window order.
pub(super) type FollowerReads = Arc<Mutex<Vec<Arc<ReadProgress>>>>;

impl Engine {
    /// Claims, for `owner`, the runs of the flow's next windows that `run` lands with its
    /// own (see the module's documentation); none when the flow or the run does not lead.
    pub(super) async fn claim_followers(&self, owner: &str, run: &RunRow, plan: &RunPlan) -> Vec<RunRow> {
        if !self.may_lead(run, plan) {
            return Vec::new();
        }
        let limit = i64::from(self.settings.catch_up_windows) - 1;
        let candidates = match self.store.runs_after(run, limit).await {
            Ok(candidates) => candidates,
            Err(error) => {
                tracing::warn!(run = %run.id, %error, "finding the flow's next due windows failed; landing this one alone");
                return Vec::new();
            }
        };
        let lag = self.settings.settle_lag.as_micros() as i64;
        let flow_now = self.clock.now();
        let mut picked: Vec<RunRow> = Vec::new();
        for next in candidates {
            let before = picked.last().unwrap_or(run);
            let follows = next.window_number == before.window_number + 1
                && next.window_start.is_some()
                && next.window_start == before.window_end;
            let ready = next.status == RunStatus::Scheduled
                && next.attempts == 0
                && next.retry_at.is_none()
                && next.due_at <= flow_now
                && next.details.schema_choice.is_none();
            let settled = next
                .window_end
                .is_some_and(|end| self.slots.clock_passed(&plan.source_config, end * 1_000_000 + lag));
            if !(follows && ready && settled) {
                break;
            }
            picked.push(next);
        }
        if picked.is_empty() {
            return picked;
        }
        let now = self.clock.wall_millis();
        let wall = WallTimes {
            now,
            lease_until: now + self.settings.run_lease.as_millis() as i64,
        };
        let mut claimed = match self.store.claim_followers(&picked, owner, wall).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(run = %run.id, %error, "claiming the flow's next due windows failed; landing this one alone");
                return Vec::new();
            }
        };
        self.start_followers(owner, &mut claimed).await;
        claimed
    }

    fn may_lead(&self, run: &RunRow, plan: &RunPlan) -> bool {
        self.settings.catch_up_windows > 1
            && run.attempts == 1
            && run.window_end.is_some()
            && run.details.schema_choice.is_none()
            && plan.delta_column.is_some()
            && plan.write_mode() == WriteMode::Append
            && !plan.cdc
            && !plan.flow.merge_by_key
            && !plan.flow.partial_ingestion
    }

    /// Marks the followers started, with their start events.
    async fn start_followers(&self, owner: &str, followers: &mut [RunRow]) {
        let now = self.clock.wall_millis();
        let started: Vec<(RunRow, Vec<AlertEvent>)> = followers
            .iter_mut()
            .map(|run| {
                run.details.metrics.duration_summary.started_at_utc = Some(now);
                let event = AlertEvent::of_run(EventKind::RunStart, run, now);
                (run.clone(), vec![event])
            })
            .collect();
        if let Err(error) = self.store.save_runs_with_events(&started, owner, Lease::Keep).await {
            tracing::warn!(%error, "recording the start of windows landed together failed");
        }
    }

    /// The lead's batches followed by each follower's window, read one after another
    /// when the one before ends. A follower's read that fails, or finds the table's
    /// columns changed, fails the batch as transient: its retry lands the windows one by
    /// one.
    pub(super) fn chain_followers(
        &self,
        lead: Batches,
        reads: (ReadRequest, &[RunRow]),
        plan: &RunPlan,
        (schema, mapping): (arrow_schema::SchemaRef, Arc<Option<MappingPlan>>),
        seen: FollowerReads,
    ) -> Batches {
        let (request, followers) = reads;
        let source: Arc<dyn Source> = Arc::from(self.sources.open(plan.source_config.clone()));
        let windows: Vec<(i64, ReadRequest)> = followers
            .iter()
            .map(|run| {
                let mut request = request.clone();
                if let Some(window) = &mut request.window {
                    window.start = run.window_start.map(|s| s * 1_000_000);
                    window.end = run.window_end.map(|s| s * 1_000_000);
                }
                (run.window_number, request)
            })
            .collect();
        let rest = futures::stream::iter(windows)
            .then(move |(window, request)| {
                let (source, schema, mapping, seen) = (source.clone(), schema.clone(), mapping.clone(), seen.clone());
                async move {
                    let failed = move |failure: RunFailure| follower_failure(window, failure);
                    let read = source.read(&request).await.map_err(|e| failed(e.into()))?;
                    if read.schema != schema {
                        let changed = RunFailure::internal("the table's columns changed between two windows");
                        return Err(failed(changed));
                    }
                    seen.lock().expect("follower reads").push(read.progress.clone());
                    let batches = read.batches.map(move |batch| {
                        let batch = batch.map_err(|e| failed(e.into()))?;
                        match mapping.as_ref() {
                            Some(plan) => plan
                                .apply(&batch)
                                .map_err(|e| failed(RunFailure::permanent("MAPPING_FAILED", e.to_string()))),
                            None => Ok(batch),
                        }
                    });
                    Ok::<Batches, RunFailure>(batches.boxed())
                }
            })
            .map(|opened| match opened {
                Ok(batches) => batches,
                Err(failure) => futures::stream::once(async move { Err(failure) }).boxed(),
            })
            .flatten();
        lead.chain(rest).boxed()
    }

    /// Records how the followers' windows ended with the lead's write: landed in its
    /// commit, each with the rows its own read gave; otherwise given back unattempted,
    /// to be claimed one by one (each then finds out whether its window landed).
    pub(super) async fn settle_followers(
        &self,
        owner: &str,
        (lead, followers): (&RunRow, Vec<RunRow>),
        written: Option<&CommitOutcome>,
        seen: &FollowerReads,
    ) {
        if followers.is_empty() {
            return;
        }
        let Some(CommitOutcome::Committed { table_version, .. }) = written else {
            if let Err(error) = self
                .store
                .release_followers(&followers, owner, self.clock.wall_millis())
                .await
            {
                tracing::warn!(%error, "giving back windows claimed with another failed; their leases will lapse");
            }
            return;
        };
        let reads = seen.lock().expect("follower reads").clone();
        let now = self.clock.wall_millis();
        let last = followers.last().map_or(lead.window_number, |run| run.window_number);
        let ended: Vec<(RunRow, Vec<AlertEvent>)> = followers
            .into_iter()
            .zip(reads)
            .map(|(mut run, progress)| {
                super::transfer::record_input(&mut run, &progress);
                let metrics = &mut run.details.metrics;
                metrics.record_summary.output_record_count = progress.rows();
                metrics.duration_summary.completed_at_utc = Some(now);
                metrics.status_summary.note = Some(format!(
                    "landed with windows {} to {last} in one commit (Delta version {table_version}) by run {}",
                    lead.window_number, lead.id
                ));
                run.details.delta_version = Some(*table_version);
                run.status = RunStatus::Success;
                run.updated_at = now;
                run.etag = new_etag();
                self.metrics.run_finished(run.status.as_str());
                let events = EventKind::of_run_end(&run)
                    .into_iter()
                    .map(|kind| AlertEvent::of_run(kind, &run, now))
                    .collect();
                (run, events)
            })
            .collect();
        match self.store.save_runs_with_events(&ended, owner, Lease::Release).await {
            Ok(saved) => tracing::info!(run = %lead.id, windows = saved + 1, "windows landed together"),
            Err(error) => {
                tracing::warn!(%error, "recording windows landed together failed; their leases will lapse and each will find its window landed")
            }
        }
    }
}

/// A follower's failure, as the lead's attempt reports it: transient, so that the retry
/// lands the windows one by one and the window at fault fails on its own run.
fn follower_failure(window: i64, failure: RunFailure) -> RunFailure {
    RunFailure {
        code: failure.code.clone(),
        message: format!(
            "window {window}, read to land with this one, failed: {}; the windows are retried one by one",
            failure.message
        ),
        transient: true,
    }
}
