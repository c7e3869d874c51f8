//! The run engine: one attempt at one run. It reads the window's rows from the source as
//! Arrow batches, applies the flow's mapping, and hands the stream to the [`Target`],
//! which writes Parquet files and makes exactly one Delta commit carrying the flow's txn.
//!
//! Runs of a flow are claimed in window order (`crate::store` sees to it), so before
//! reading, "the table's txn version for this flow is at least my window" tells exactly
//! whether the window landed: a run redone after a crash that followed its commit writes
//! nothing, and reports the commit it finds (`landing.rs`). Window bounds are checked
//! against the source's clock. The engine takes what it uses, so its unit tests give it
//! a fake source and a fake target.

use crate::alerts::{AlertEvent, EventKind};
use std::sync::Arc;
use std::time::Duration;

use super::clock::Clock;
use super::failure::{RUN_ABANDONED, RunFailure};
use super::followers::FollowerReads;
use super::plan::{PlanSources, RunPlan};
use super::slots::SourceSlots;
use super::source_factory::SourceFactory;
use super::target::Target;
use crate::catalog::{self, CatalogError};
use crate::connections::secrets::SecretCipher;
use crate::lake::CommitOutcome;
use crate::metrics::Metrics;
use crate::sources::source::Source;
use crate::specs::SpecCatalog;
use crate::store::{Lease, RunRow, Store};

/// The settings runs are executed with (from the configuration).
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// How long after a window's end (by the source's clock) its run starts.
    pub settle_lag: Duration,
    /// Rows per Arrow record batch.
    pub batch_rows: usize,
    /// Partitions a table is read in, in parallel.
    pub source_partitions: usize,
    /// Claims of a run (across processes) before it fails.
    pub run_attempts: u32,
    /// Wait before the first retry of a transient failure; doubled for each further one.
    pub retry_backoff: Duration,
    /// How long a claim lasts without a heartbeat.
    pub run_lease: Duration,
    /// How often idle workers look for work.
    pub poll_interval: Duration,
    /// Changes a change data capture run reads at most (see `cdc.rs`).
    pub cdc_changes_per_run: u32,
    /// WAL a flow's slot may retain after a run before the run reports `cdc.slot.lag`.
    pub slot_lag_alert_bytes: u64,
    /// Consecutive due windows of a flow landed in one commit at most (catch-up, see
    /// `followers.rs`); 1 lands each window in its own.
    pub catch_up_windows: u32,
}

/// Everything an attempt at a run uses. Cheap to share (`Arc<Engine>`).
pub struct Engine {
    pub store: Store,
    pub cipher: SecretCipher,
    pub specs: Arc<SpecCatalog>,
    pub sources: Arc<dyn SourceFactory>,
    pub target: Arc<dyn Target>,
    pub clock: Arc<dyn Clock>,
    pub slots: Arc<SourceSlots>,
    pub metrics: Arc<Metrics>,
    pub settings: RunSettings,
}

/// How an attempt ended.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The window landed (now, or already before).
    Succeeded,
    Failed(RunFailure),
    /// The window is not yet complete by the source's clock: run again at `due_at`.
    Postponed {
        due_at: i64,
    },
    /// The flow was deleted or disabled before the run started.
    Cancelled,
}

impl Engine {
    /// Makes one attempt at `run`, held by `owner`. Progress is saved on the way; the
    /// caller records the outcome.
    pub async fn execute(&self, owner: &str, run: &mut RunRow) -> Outcome {
        match self.attempt(owner, run).await {
            Ok(outcome) => outcome,
            Err(failure) => {
                tracing::warn!(run = %run.id, code = %failure.code, message = %failure.message, "run attempt failed");
                Outcome::Failed(failure)
            }
        }
    }

    async fn attempt(&self, owner: &str, run: &mut RunRow) -> Result<Outcome, RunFailure> {
        let sources = PlanSources {
            store: &self.store,
            cipher: &self.cipher,
            specs: &self.specs,
        };
        let Some(plan) = RunPlan::load(&sources, run).await? else {
            return Ok(Outcome::Cancelled);
        };
        // Every earlier claim of this run died without recording an end: this one only
        // finds out whether the window landed, and otherwise gives the run up.
        let abandoned = run.attempts > i64::from(self.settings.run_attempts.max(1));
        let source = self.sources.open(plan.source_config.clone());
        // Changes are not windowed: a change data capture run need not wait for the window;
        // nor need a full copy, which reads the whole table whenever it runs.
        if !abandoned
            && !plan.cdc
            && plan.delta_column.is_some()
            && let Some(due_at) = self.postpone_until(&plan, source.as_ref(), run).await?
        {
            return Ok(Outcome::Postponed { due_at });
        }
        if let Some(landed) = self
            .target
            .landed(&plan.dataset_id, &plan.flow.id, run.window_number)
            .await?
        {
            tracing::info!(run = %run.id, window = run.window_number, "window already landed; nothing to write");
            self.recover(run, &landed).await?;
            if plan.cdc {
                self.advance_after_landing(&plan, source.as_ref(), landed.commit.as_ref(), run)
                    .await;
            }
            return Ok(Outcome::Succeeded);
        }
        self.close_interrupted_batches(run).await?;
        if abandoned {
            return Err(abandoned_failure(run, self.settings.run_attempts));
        }
        let batch_id = self.start(owner, run, &plan).await?;
        if plan.cdc {
            let written = self.capture(owner, run, (&plan, source.as_ref()), &batch_id).await;
            self.settle(run, &plan, &batch_id, written).await?;
            return Ok(Outcome::Succeeded);
        }
        let delivery = self.delivery(run, &plan, source.as_ref()).await?;
        let followers = self.claim_followers(owner, run, &plan).await;
        let seen = FollowerReads::default();
        let together = (followers.as_slice(), &seen);
        let written = self
            .transfer(owner, run, (&plan, source.as_ref()), &batch_id, delivery, together)
            .await;
        let committed = written.as_ref().ok().cloned();
        let last = followers.last().map(|f| f.window_number);
        self.settle_followers(owner, (run, followers), committed.as_ref(), &seen)
            .await;
        self.settle(run, &plan, &batch_id, written).await?;
        if let (Some(last), Some(CommitOutcome::Committed { .. })) = (last, committed) {
            // The commit's counts are every window's; the run's are its own window's.
            let records = &mut run.details.metrics.record_summary;
            records.output_record_count = records.input_record_count;
            run.details.metrics.status_summary.note = Some(format!(
                "landed windows {} to {last} in one commit (catch-up); each run counts its own window's rows",
                run.window_number
            ));
        }
        Ok(Outcome::Succeeded)
    }

    /// `Some(due_at)` when the window's end, plus the settle lag, is still ahead of the
    /// source's own clock: rows stamped near the end may not have committed yet.
    async fn postpone_until(
        &self,
        plan: &RunPlan,
        source: &dyn Source,
        run: &RunRow,
    ) -> Result<Option<i64>, RunFailure> {
        let Some(end) = run.window_end else { return Ok(None) };
        let lag = self.settings.settle_lag.as_micros() as i64;
        let ready_at = end * 1_000_000 + lag;
        if self.slots.clock_passed(&plan.source_config, ready_at) {
            return Ok(None);
        }
        // Reading the clock opens a connection too: it counts against the server's limit.
        let slot = self
            .slots
            .acquire(&plan.source_config, 1)
            .await
            .map_err(RunFailure::internal)?;
        let source_now = source.clock().await;
        drop(slot);
        let source_now = source_now?;
        self.slots.saw_clock(&plan.source_config, source_now);
        if source_now >= ready_at {
            return Ok(None);
        }
        let wait = (ready_at - source_now + 999_999) / 1_000_000;
        Ok(Some(self.clock.now() + wait))
    }

    /// Names the attempt's batch on the run, marks the run started, then opens the batch:
    /// in that order, so that a batch whose attempt dies is always named by its run, and
    /// the next attempt closes it.
    async fn start(&self, owner: &str, run: &mut RunRow, plan: &RunPlan) -> Result<String, RunFailure> {
        let batch_id = catalog::new_id();
        run.details.batches.push(batch_id.clone());
        // The counts are this attempt's; an earlier attempt's died with it.
        let metrics = &mut run.details.metrics;
        metrics.duration_summary.started_at_utc = Some(self.clock.wall_millis());
        metrics.record_summary = Default::default();
        metrics.size_summary = Default::default();
        metrics.status_summary.note = None;
        let event = AlertEvent::of_run(EventKind::RunStart, run, self.clock.wall_millis());
        if !self
            .store
            .save_run_with_events(run, owner, Lease::Keep, std::slice::from_ref(&event))
            .await
            .map_err(RunFailure::internal)?
        {
            return Err(RunFailure::internal("the run's lease was lost before it started"));
        }
        catalog::open_batch(
            &self.store,
            &run.tenant,
            &batch_id,
            &plan.dataset_id,
            &run.id,
            &plan.flow.id,
        )
        .await
        .map_err(catalog_failure)?;
        Ok(batch_id)
    }

    /// Saves the run's progress while `owner` holds it. A failure is logged, not fatal:
    /// the run's end is recorded later, and a lost lease is noticed by the heartbeat.
    pub(super) async fn save(&self, owner: &str, run: &RunRow) {
        match self.store.save_run(run, owner, Lease::Keep).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(run = %run.id, "saving progress: the run's lease was lost"),
            Err(error) => tracing::warn!(run = %run.id, %error, "saving the run's progress failed"),
        }
    }
}

/// A catalog failure: a dataset deleted under the flow is permanent, the store failing
/// is not.
pub(super) fn catalog_failure(error: CatalogError) -> RunFailure {
    match error {
        CatalogError::DatasetNotFound(id) => {
            RunFailure::permanent("CONFIGURATION_MISSING", format!("dataset {id} no longer exists"))
        }
        other => RunFailure::internal(other),
    }
}

fn abandoned_failure(run: &RunRow, attempts: u32) -> RunFailure {
    RunFailure::permanent(
        RUN_ABANDONED,
        format!(
            "the run was started {} times and each attempt stopped before it ended (its process was killed or \
             lost its lease); window {} did not land. Re-run it with POST /runs/{}/action?op=re-trigger",
            attempts.max(1),
            run.window_number,
            run.id
        ),
    )
}
