//! The data path of an attempt: read the window from the source, map it, and write it to
//! the target in one commit, saving the run's growing counts every second meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::engine::Engine;
use super::failure::RunFailure;
use super::followers::FollowerReads;
use super::partial;
use super::plan::RunPlan;
use super::schema_policy::Compared;
use super::target::{Batches, Target};
use crate::lake::{ChangeSet, ChangeStep, CommitOutcome, CommitSpec, WriteMode};
use crate::mapping::apply::MappingPlan;
use crate::schema_changes::SchemaChoice;
use crate::sources::changes::{ChangeChunk, ChangeKind};
use crate::sources::read::{ReadProgress, ReadRequest, WindowFilter};
use crate::sources::source::Source;
use crate::store::RunRow;

impl Engine {
    /// Copies the run's window into its dataset as batch `batch_id`, as `delivery` says.
    pub(super) async fn transfer(
        &self,
        owner: &str,
        run: &mut RunRow,
        (plan, source): (&RunPlan, &dyn Source),
        batch_id: &str,
        delivery: Delivery,
        (followers, seen): (&[RunRow], &FollowerReads),
    ) -> Result<CommitOutcome, RunFailure> {
        // Held until the write ends: the read's connections close with its stream.
        let slots = self
            .slots
            .acquire(&plan.source_config, self.settings.source_partitions)
            .await
            .map_err(RunFailure::internal)?;
        let request = self.read_request(run, plan, slots.count());
        let read = source.read(&request).await?;
        let mapping = match &plan.mapping {
            Some(set) => Some(
                MappingPlan::new(&read.schema, &set.mappings)
                    .map_err(|e| RunFailure::permanent("MAPPING_INVALID", e.to_string()))?,
            ),
            None => None,
        };
        let schema = mapping.as_ref().map_or(read.schema.clone(), MappingPlan::output_schema);
        let compared = Compared {
            schema: &schema,
            nullability_known: true,
            key: delivery.merge_key.as_deref(),
        };
        let evolution = self.schema_evolution(run, plan, compared).await?;
        let progress = read.progress.clone();
        let mapping = Arc::new(mapping);
        let mapped = mapping.clone();
        let batches = read.batches.map(move |batch| {
            let batch = batch.map_err(RunFailure::from)?;
            match mapped.as_ref() {
                Some(plan) => plan
                    .apply(&batch)
                    .map_err(|e| RunFailure::permanent("MAPPING_FAILED", e.to_string())),
                None => Ok(batch),
            }
        });
        let mut batches = partial::guarded(batches, progress.clone(), &plan.flow).boxed();
        if !followers.is_empty() {
            let shapes = (read.schema.clone(), mapping);
            batches = self.chain_followers(batches, (request, followers), plan, shapes, seen.clone());
        }
        let spec = CommitSpec {
            mode: delivery.mode,
            app_id: plan.flow.id.clone(),
            txn_version: followers.last().unwrap_or(run).window_number,
            run_id: run.id.clone(),
            batch_id: Some(batch_id.to_string()),
            cdc_position: delivery.cdc_position,
            first_window: (!followers.is_empty()).then_some(run.window_number),
        };
        let target = self.target.clone();
        let dataset = plan.dataset_id.clone();
        let write = async move {
            match delivery.merge_key {
                None => target
                    .write(&dataset, (schema, &evolution), batches, spec)
                    .await
                    .map_err(RunFailure::from),
                Some(key) => {
                    let changes = ChangeSet {
                        key,
                        steps: Vec::new(),
                        schema: Some(schema),
                        evolution,
                    };
                    merge_rows(target.as_ref(), &dataset, changes, batches, spec).await
                }
            }
        };
        let lost = slots.lost();
        // Another process may take the connections once their lease lapses: stop first.
        let write = async move {
            tokio::select! {
                written = write => written,
                _ = lost.cancelled() => Err(RunFailure {
                    code: "SOURCE_CONNECTIONS_LOST".into(),
                    message: "the lease on the source's connections could not be renewed; the read stopped".into(),
                    transient: true,
                }),
            }
        };
        let renewed: Vec<&str> = followers.iter().map(|f| f.id.as_str()).collect();
        let outcome = self.report_progress(owner, (run, &renewed), &progress, write).await;
        record_input(run, &progress);
        partial::record(run, &progress, &plan.flow);
        self.metrics.bytes_read(progress.bytes());
        drop(slots);
        outcome
    }

    /// How the run's rows land: appended or replacing the dataset (`plan.write_mode`), or
    /// merged by the table's primary key (`mergeByKey`). A resnapshot the user chose for a
    /// paused flow replaces the dataset.
    pub(super) async fn delivery(
        &self,
        run: &RunRow,
        plan: &RunPlan,
        source: &dyn Source,
    ) -> Result<Delivery, RunFailure> {
        if resnapshot(run) {
            return Ok(Delivery {
                mode: WriteMode::Replace,
                cdc_position: None,
                merge_key: None,
            });
        }
        let merge_key = match plan.flow.merge_by_key && plan.delta_column.is_some() {
            true => Some(merge_key(plan, source).await?),
            false => None,
        };
        Ok(Delivery {
            mode: plan.write_mode(),
            cdc_position: None,
            merge_key,
        })
    }

    /// Awaits `write`, saving the run's growing counts every second meanwhile, and
    /// renewing the leases of the followers (`renewed`) the write lands too.
    async fn report_progress<T>(
        &self,
        owner: &str,
        (run, renewed): (&mut RunRow, &[&str]),
        progress: &ReadProgress,
        write: impl Future<Output = T>,
    ) -> T {
        tokio::pin!(write);
        loop {
            tokio::select! {
                result = &mut write => return result,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    record_input(run, progress);
                    self.save(owner, run).await;
                    if !renewed.is_empty() {
                        let until = self.clock.wall_millis() + self.settings.run_lease.as_millis() as i64;
                        if let Err(error) = self.store.renew_leases(renewed, owner, until).await {
                            tracing::warn!(run = %run.id, %error, "renewing the leases of windows landed together failed");
                        }
                    }
                }
            }
        }
    }

    fn read_request(&self, run: &RunRow, plan: &RunPlan, partitions: usize) -> ReadRequest {
        let window = plan.delta_column.as_ref().map(|column| WindowFilter {
            column: column.name.clone(),
            // A resnapshot reads every row up to the window's end: the windows before it too.
            start: run.window_start.filter(|_| !resnapshot(run)).map(|s| s * 1_000_000),
            end: run.window_end.map(|s| s * 1_000_000),
            timezone: column.timezone.clone(),
        });
        ReadRequest {
            table: plan.table.clone(),
            columns: plan.columns.clone(),
            window,
            partitions,
            batch_rows: self.settings.batch_rows,
            channel_depth: 2,
            on_bad_value: partial::on_bad_value(&plan.flow),
        }
    }
}

/// How a transfer's rows land.
pub(super) struct Delivery {
    pub mode: WriteMode,
    /// Recorded in the commit (a change data capture snapshot's starting position).
    pub cdc_position: Option<String>,
    /// Merge the rows by these key columns instead of writing them (`mergeByKey`).
    pub merge_key: Option<Vec<String>>,
}

/// Merges a window's rows into the dataset by `key`: each row replaces the dataset's row
/// with its key (the last of the window's rows with one key wins). The rows are held in
/// memory until the merge, which needs them all.
async fn merge_rows(
    target: &dyn Target,
    dataset: &str,
    mut changes: ChangeSet,
    mut batches: Batches,
    spec: CommitSpec,
) -> Result<CommitOutcome, RunFailure> {
    let steps = &mut changes.steps;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        if batch.num_rows() == 0 {
            continue;
        }
        steps.push(ChangeStep::Rows(ChangeChunk {
            kinds: vec![ChangeKind::Insert; batch.num_rows()],
            unchanged: Vec::new(),
            batch,
        }));
    }
    Ok(target.merge(dataset, changes, spec).await?)
}

/// The primary key a `mergeByKey` flow merges by, read at the run (it may have changed).
async fn merge_key(plan: &RunPlan, source: &dyn Source) -> Result<Vec<String>, RunFailure> {
    let key = source.key(&plan.table).await?;
    if key.is_empty() {
        return Err(RunFailure::permanent(
            "MERGE_KEY_MISSING",
            format!(
                "the flow merges rows by the primary key of {}, which has none now: add one, or leave mergeByKey out",
                plan.table
            ),
        ));
    }
    Ok(key)
}

/// Whether the run is the resnapshot the user chose for its paused flow.
fn resnapshot(run: &RunRow) -> bool {
    run.details.schema_choice == Some(SchemaChoice::Resnapshot)
}

/// Rows read (skipped ones included) and skipped, and bytes received.
pub(super) fn record_input(run: &mut RunRow, progress: &ReadProgress) {
    let failed = progress.failed_rows();
    let records = &mut run.details.metrics.record_summary;
    records.input_record_count = progress.rows() + failed;
    records.failed_record_count = failed;
    run.details.metrics.size_summary.input_bytes = progress.bytes();
}
