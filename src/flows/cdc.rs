//! Change data capture runs (docs/cdc.md). A flow whose source connection has
//! `cdcEnabled` mirrors its table: its first run (and a run after `op=resnapshot`)
//! creates the capture's slot and then copies the whole table, replacing the dataset;
//! every later run reads the changes committed since the slot's position and merges them
//! by key in one commit, which records the position it reached, and only then moves the
//! slot there.
//!
//! Nothing is lost or applied twice: the slot never moves past a change that has not
//! landed, and merging is by whole rows per key, so changes read again (the snapshot
//! already held them, or a run died between its commit and moving the slot) leave the
//! dataset as it was.

use crate::alerts::AlertEvent;
use futures::StreamExt;

use super::engine::Engine;
use super::failure::RunFailure;
use super::plan::RunPlan;
use super::schema_policy::Compared;
use super::transfer::Delivery;
use crate::lake::{ChangeSet, ChangeStep, CommitOutcome, CommitSpec, LandedCommit, WriteMode};
use crate::schema_changes::SchemaChoice;
use crate::sources::changes::{
    Capture, ChangeEvent, ChangeFeed, ChangeRequest, ChangeStream, ChangeSummary, Lsn, SlotState,
};
use crate::sources::source::Source;
use crate::store::{CdcMode, CdcSummary, RunRow};

/// The flow's replication slot is gone (dropped by hand, or never created).
pub const CDC_SLOT_MISSING: &str = "CDC_SLOT_MISSING";
/// The source removed WAL the slot still needed (`max_slot_wal_keep_size`).
pub const CDC_SLOT_INVALIDATED: &str = "CDC_SLOT_INVALIDATED";
/// The source has no change log Inlet can read.
pub const CDC_UNSUPPORTED: &str = "CDC_UNSUPPORTED";

impl Engine {
    /// Lands the run of a change data capture flow: a snapshot or the changes since the
    /// last run, as batch `batch_id`.
    pub(super) async fn capture(
        &self,
        owner: &str,
        run: &mut RunRow,
        (plan, source): (&RunPlan, &dyn Source),
        batch_id: &str,
    ) -> Result<CommitOutcome, RunFailure> {
        let feed = source.change_feed().ok_or_else(|| {
            RunFailure::permanent(
                CDC_UNSUPPORTED,
                format!("the source of {} has no change log Inlet can read", plan.table),
            )
        })?;
        let capture = Capture::for_flow(&plan.flow.id, plan.table.clone());
        let requested = self
            .store
            .resnapshot_requested(&run.tenant, &plan.flow.id)
            .await
            .map_err(RunFailure::internal)?;
        let first = self
            .target
            .txn_version(&plan.dataset_id, &plan.flow.id)
            .await?
            .is_none();
        let chosen = run.details.schema_choice == Some(SchemaChoice::Resnapshot);
        if first || requested.is_some() || chosen {
            if requested.is_some() {
                // Asked for by the user: the dataset takes the table's schema as it is now.
                run.details.schema_choice = Some(SchemaChoice::Resnapshot);
            }
            let slot = feed.prepare(&capture, !first).await?;
            run.details.cdc = Some(CdcSummary {
                mode: CdcMode::Snapshot,
                to_lsn: Some(slot.confirmed.to_string()),
                ..CdcSummary::default()
            });
            let delivery = Delivery {
                mode: WriteMode::Replace,
                cdc_position: Some(slot.confirmed.to_string()),
                merge_key: None,
            };
            let outcome = self
                .transfer(
                    owner,
                    run,
                    (plan, source),
                    batch_id,
                    delivery,
                    (&[], &Default::default()),
                )
                .await?;
            if let Some(at) = requested
                && let Err(error) = self.store.clear_resnapshot(&plan.flow.id, at).await
            {
                tracing::warn!(flow = %plan.flow.id, %error, "forgetting the re-snapshot request failed; it will be taken again");
            }
            self.observe_slot(plan, feed.as_ref(), &capture, run).await;
            return Ok(outcome);
        }
        self.merge_changes(owner, run, plan, batch_id, (feed.as_ref(), &capture))
            .await
    }

    /// Reads the changes since the slot's position and merges them in one commit.
    async fn merge_changes(
        &self,
        owner: &str,
        run: &mut RunRow,
        plan: &RunPlan,
        batch_id: &str,
        (feed, capture): (&dyn ChangeFeed, &Capture),
    ) -> Result<CommitOutcome, RunFailure> {
        let state = feed.slot(capture).await?.ok_or_else(|| slot_missing(plan, capture))?;
        if state.invalidated {
            return Err(slot_invalidated(plan, capture, &state));
        }
        let request = ChangeRequest {
            columns: plan.columns.clone(),
            max_changes: Some(self.settings.cdc_changes_per_run),
            batch_rows: self.settings.batch_rows,
            marker: run.id.clone(),
        };
        let connection = self
            .slots
            .acquire(&plan.source_config, 1)
            .await
            .map_err(RunFailure::internal)?;
        let read = feed.changes(capture, &request).await?;
        let (steps, summary) = collect(read.stream).await?;
        drop(connection);
        let evolution = match latest_schema(&steps) {
            Some(schema) => {
                let compared = Compared {
                    schema: &schema,
                    nullability_known: false,
                    key: Some(&read.key),
                };
                self.schema_evolution(run, plan, compared).await?
            }
            None => Default::default(),
        };
        let to = summary.last_commit_end.unwrap_or(read.from).max(read.from);
        record_changes(run, &summary, (read.from, to), &state);
        self.save(owner, run).await;
        self.metrics.bytes_read(summary.bytes);
        let spec = CommitSpec {
            mode: WriteMode::Append,
            app_id: plan.flow.id.clone(),
            txn_version: run.window_number,
            run_id: run.id.clone(),
            batch_id: Some(batch_id.to_string()),
            cdc_position: Some(to.to_string()),
            first_window: None,
        };
        let changes = ChangeSet {
            key: read.key,
            steps,
            schema: None,
            evolution,
        };
        let outcome = self.target.merge(&plan.dataset_id, changes, spec).await?;
        if let CommitOutcome::Committed { .. } = outcome {
            self.advance(plan, feed, capture, (to, run)).await;
        }
        Ok(outcome)
    }

    /// Moves the slot of a window found landed to the position its commit recorded (the
    /// attempt that committed it may have died before it moved the slot).
    pub(super) async fn advance_after_landing(
        &self,
        plan: &RunPlan,
        source: &dyn Source,
        commit: Option<&LandedCommit>,
        run: &RunRow,
    ) {
        let position = commit
            .and_then(|c| c.cdc_position.as_deref())
            .and_then(|p| p.parse::<Lsn>().ok());
        if let (Some(position), Some(feed)) = (position, source.change_feed()) {
            let capture = Capture::for_flow(&plan.flow.id, plan.table.clone());
            self.advance(plan, feed.as_ref(), &capture, (position, run)).await;
        }
    }

    /// Moves the slot past `to`; a failure only means the next run reads those changes
    /// again (and merges them to the same rows), so it is logged.
    async fn advance(&self, plan: &RunPlan, feed: &dyn ChangeFeed, capture: &Capture, (to, run): (Lsn, &RunRow)) {
        if let Err(error) = feed.advance(capture, to).await {
            tracing::warn!(flow = %plan.flow.id, %error, "moving the replication slot failed; the next run reads those changes again");
            return;
        }
        self.observe_slot(plan, feed, capture, run).await;
    }

    /// Records how much WAL the slot retains, for the flow's gauge; above the flow's
    /// slot lag threshold, writes the run's `cdc.slot.lag` event (once per run).
    async fn observe_slot(&self, plan: &RunPlan, feed: &dyn ChangeFeed, capture: &Capture, run: &RunRow) {
        let Ok(Some(state)) = feed.slot(capture).await else {
            return;
        };
        self.metrics.retained_wal(&plan.flow.id, state.retained_bytes);
        // The flow's own `inletAlerts.slotLagBytes`, else the server's `alerts.slot_lag_bytes`.
        let threshold = plan.flow.alerts.slot_lag_bytes(self.settings.slot_lag_alert_bytes);
        if state.retained_bytes > threshold {
            let event = AlertEvent::slot_lag_of(run, &state, self.clock.wall_millis());
            if let Err(error) = self.store.insert_alert_event_once(&event).await {
                tracing::warn!(flow = %plan.flow.id, %error, "recording the slot lag event failed");
            }
        }
    }
}

/// Every event of a change read: the merge's steps, and how the read ended.
async fn collect(mut stream: ChangeStream) -> Result<(Vec<ChangeStep>, ChangeSummary), RunFailure> {
    let mut steps = Vec::new();
    while let Some(event) = stream.next().await {
        match event? {
            ChangeEvent::Rows(chunk) => steps.push(ChangeStep::Rows(chunk)),
            ChangeEvent::Truncate => steps.push(ChangeStep::Truncate),
            ChangeEvent::End(summary) => return Ok((steps, summary)),
        }
    }
    Err(RunFailure {
        code: "CDC_READ_INTERRUPTED".into(),
        message: "the change read stopped before its end".into(),
        transient: true,
    })
}

/// The columns of the last changes read: the table as the source has it now.
fn latest_schema(steps: &[ChangeStep]) -> Option<arrow_schema::SchemaRef> {
    steps.iter().rev().find_map(|step| match step {
        ChangeStep::Rows(chunk) => Some(chunk.batch.schema()),
        ChangeStep::Truncate => None,
    })
}

/// The run's `inletCdc` and input counts from a change read from `from` to `to`.
fn record_changes(run: &mut RunRow, summary: &ChangeSummary, (from, to): (Lsn, Lsn), state: &SlotState) {
    run.details.cdc = Some(CdcSummary {
        mode: CdcMode::Changes,
        inserts: summary.inserts,
        updates: summary.updates,
        deletes: summary.deletes,
        truncates: summary.truncates,
        transactions: summary.transactions,
        from_lsn: Some(from.to_string()),
        to_lsn: Some(to.to_string()),
        lag_bytes: state.current.0.saturating_sub(to.0),
        more_waiting: !summary.complete,
    });
    let metrics = &mut run.details.metrics;
    metrics.record_summary.input_record_count = summary.inserts + summary.updates + summary.deletes;
    metrics.size_summary.input_bytes = summary.bytes;
}

fn slot_missing(plan: &RunPlan, capture: &Capture) -> RunFailure {
    RunFailure::permanent(
        CDC_SLOT_MISSING,
        format!(
            "replication slot {} of this flow does not exist at the source any more, so the changes since the last \
             run cannot be read; take a new snapshot with POST /flows/{}/action?op=resnapshot",
            capture.slot, plan.flow.id
        ),
    )
}

fn slot_invalidated(plan: &RunPlan, capture: &Capture, state: &SlotState) -> RunFailure {
    RunFailure::permanent(
        CDC_SLOT_INVALIDATED,
        format!(
            "replication slot {} was invalidated (wal_status {}): the source removed WAL it still needed, usually because \
             the slot retained more than max_slot_wal_keep_size; changes were lost to it, so take a new snapshot with \
             POST /flows/{}/action?op=resnapshot",
            capture.slot, state.wal_status, plan.flow.id
        ),
    )
}
