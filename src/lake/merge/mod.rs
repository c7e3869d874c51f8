//! Merging changes into a dataset's table by key, in one Delta commit (docs/cdc.md).
//!
//! The changes are folded per key (`fold.rs`); then every data file that may hold a key the
//! changes touch is read (files whose key range, from their statistics, holds none are
//! skipped), and a file that does hold one is removed and its other rows written again.
//! The rows present after the changes are written as new files, their unchanged values
//! filled from the rows they replace. One commit removes and adds the files, carries the
//! txn and, when the changes bring a new column, the table's wider schema: a reader sees
//! the table before the run or after it. delta-rs's own `MERGE` needs its `datafusion`
//! feature, a query engine Inlet does not otherwise build; this is the same copy-on-write
//! merge on the Parquet and Delta APIs the lake already uses.

mod fold;
pub(super) mod prepare;
pub(super) mod scan;

use std::collections::HashMap;
use std::time::Duration;

use arrow_array::{Array, RecordBatch, new_null_array};
use arrow_schema::SchemaRef;
use arrow_select::interleave::interleave;
use deltalake::DeltaTable;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, MetadataExt, Remove, StructType};
use deltalake::protocol::{DeltaOperation, MergePredicate};
use serde_json::json;

use super::parallel::ParallelWriter;
use super::{CommitOutcome, CommitSpec, Lake, LakeError, commit, txn_version};
use crate::sources::changes::ChangeChunk;
use fold::{Key, Origin, Upsert};
use prepare::{Prepared, prepare};

/// How many times a merge is redone when another writer commits first.
const MAX_ATTEMPTS: usize = 10;
/// Rows per batch of upserted rows.
const BATCH_ROWS: usize = 8192;

/// A run's changes for [`Lake::merge`], in commit order.
pub struct ChangeSet {
    /// The columns rows are merged by.
    pub key: Vec<String>,
    pub steps: Vec<ChangeStep>,
    /// The schema a table is created with when none exists and no step has rows.
    pub schema: Option<SchemaRef>,
    /// How the table's schema changes (`mergeByKey` runs; change data capture runs widen
    /// it by new columns themselves).
    pub evolution: super::Evolution,
}

/// One step of a [`ChangeSet`].
pub enum ChangeStep {
    Rows(ChangeChunk),
    /// Every row before this is gone.
    Truncate,
}

impl Lake {
    /// Merges `changes` into the dataset's table by key, in exactly one commit carrying
    /// `spec`'s txn (none when the txn is there already; see the module docs).
    pub async fn merge(
        &self,
        dataset_id: &str,
        changes: ChangeSet,
        spec: CommitSpec,
    ) -> Result<CommitOutcome, LakeError> {
        let url = self.table_url(dataset_id)?;
        for attempt in 1..=MAX_ATTEMPTS {
            let table = self.open(&url).await?;
            if let Some(table) = &table
                && let Some(done) = txn_version(table, &spec.app_id).await?
                && done >= spec.txn_version
            {
                return Ok(CommitOutcome::AlreadyCommitted { txn_version: done });
            }
            let current = match &table {
                Some(table) => Some(super::arrow_schema(table)?),
                None => None,
            };
            let prepared = prepare(dataset_id, current, &changes)?;
            let Some(table) = table else {
                // No table yet: the rows present after the changes are the table.
                let (adds, rows) = self.write_rows(&url, &prepared, &Base::default()).await?;
                return commit::commit(
                    self,
                    &url,
                    dataset_id,
                    None,
                    &prepared.target,
                    (adds, None),
                    rows,
                    &spec,
                )
                .await;
            };
            let base_version = table.version();
            let scanned = scan::scan(self, &url, &table, &prepared).await?;
            let (mut adds, rows) = self.write_rows(&url, &prepared, &scanned.base).await?;
            adds.extend(scanned.rewritten);
            let output = json!({
                "rows": rows,
                "files": adds.len(),
                "bytes": adds.iter().map(|a| a.size.max(0) as u64).sum::<u64>(),
                "deleted": scanned.deleted,
                "removedFiles": scanned.removes.len(),
            });
            match commit_merge(&table, &prepared, scanned.removes, &adds, &spec, &output).await {
                Ok(version) => {
                    return Ok(CommitOutcome::Committed {
                        table_version: version,
                        files: adds.len(),
                        rows,
                        bytes: output["bytes"].as_u64().unwrap_or(0),
                    });
                }
                Err(error) => {
                    let Some(now) = self.open(&url).await? else {
                        return Err(error.into());
                    };
                    if let Some(done) = txn_version(&now, &spec.app_id).await?
                        && done >= spec.txn_version
                    {
                        return Ok(CommitOutcome::AlreadyCommitted { txn_version: done });
                    }
                    if now.version() == base_version {
                        return Err(error.into());
                    }
                    tracing::warn!(dataset = dataset_id, attempt, %error, "another writer committed first; merging again");
                    tokio::time::sleep(Duration::from_millis(20 * attempt as u64)).await;
                }
            }
        }
        Err(LakeError::Conflict {
            dataset: dataset_id.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Writes the rows present after the changes; their files and count.
    async fn write_rows(&self, url: &url::Url, prepared: &Prepared, base: &Base) -> Result<(Vec<Add>, u64), LakeError> {
        let mut writer = self.merge_writer(url, &prepared.target)?;
        let rows = upserted_rows(prepared, base)?;
        let count = rows.iter().map(|b| b.num_rows() as u64).sum();
        for batch in rows {
            writer.write(batch).await?;
        }
        Ok((writer.finish().await?, count))
    }

    /// Parquet writers for rows of `schema` into the table at `url`.
    pub(super) fn merge_writer(&self, url: &url::Url, schema: &SchemaRef) -> Result<ParallelWriter, LakeError> {
        let properties = super::parquet::writer_properties(self.inner.config.row_group_bytes, schema);
        let writers = (0..self.inner.config.writers.max(1))
            .map(|_| self.writer(None, url, schema, properties.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ParallelWriter::start(writers))
    }
}

/// The table's rows that fill values of upserted rows: by key, a row of one of `batches`.
#[derive(Default)]
struct Base {
    batches: Vec<RecordBatch>,
    rows: HashMap<Key, (usize, usize)>,
}

/// The rows present after the changes, values filled, in batches of the table's schema.
fn upserted_rows(prepared: &Prepared, base: &Base) -> Result<Vec<RecordBatch>, LakeError> {
    let mut upserts: Vec<&Upsert> = prepared.folded.keys.values().flatten().collect();
    upserts.sort_unstable_by_key(|u| (u.chunk, u.row));
    let chunk_count = prepared.chunks.len();
    let null_at = chunk_count + base.batches.len();
    let origin = |upsert: &Upsert, column: u32| -> (usize, usize) {
        let fill = upsert.fills.iter().find(|(c, _)| *c == column).map(|(_, o)| o);
        match fill {
            None => (upsert.chunk as usize, upsert.row as usize),
            Some(Origin::Change { chunk, row }) => (*chunk as usize, *row as usize),
            Some(Origin::Base(key)) => base
                .rows
                .get(key)
                .map_or((null_at, 0), |(batch, row)| (chunk_count + batch, *row)),
            Some(Origin::Null) => (null_at, 0),
        }
    };
    let mut out = Vec::new();
    for part in upserts.chunks(BATCH_ROWS) {
        let mut columns = Vec::with_capacity(prepared.target.fields().len());
        for (index, field) in prepared.loose.fields().iter().enumerate() {
            let null = new_null_array(field.data_type(), 1);
            let mut sources: Vec<&dyn Array> = prepared.chunks.iter().map(|c| c.column(index).as_ref()).collect();
            sources.extend(base.batches.iter().map(|b| b.column(index).as_ref()));
            sources.push(null.as_ref());
            let picks: Vec<(usize, usize)> = part.iter().map(|u| origin(u, index as u32)).collect();
            columns.push(interleave(&sources, &picks)?);
        }
        let batch = RecordBatch::try_new(prepared.target.clone(), columns).map_err(|e| {
            LakeError::BadBatch(format!(
                "a merged row has no value for a column that cannot be null: {e}"
            ))
        })?;
        out.push(batch);
    }
    Ok(out)
}

/// The one commit of a merge on top of `table`'s version.
async fn commit_merge(
    table: &DeltaTable,
    prepared: &Prepared,
    removes: Vec<Remove>,
    adds: &[Add],
    spec: &CommitSpec,
    output: &serde_json::Value,
) -> Result<i64, deltalake::DeltaTableError> {
    let snapshot = table.snapshot()?;
    let mut actions = Vec::with_capacity(removes.len() + adds.len() + 1);
    if prepared.widened {
        let schema: StructType = prepared.target.as_ref().try_into_kernel()?;
        actions.push(Action::Metadata(snapshot.metadata().clone().with_schema(&schema)?));
    }
    actions.extend(removes.into_iter().map(Action::Remove));
    actions.extend(adds.iter().cloned().map(Action::Add));
    let predicate = |kind: &str| MergePredicate {
        action_type: kind.to_string(),
        predicate: None,
    };
    let operation = DeltaOperation::Merge {
        predicate: None,
        merge_predicate: Some(format!("by key ({})", prepared_key_names(prepared).join(", "))),
        matched_predicates: vec![predicate("update"), predicate("delete")],
        not_matched_predicates: vec![predicate("insert")],
        not_matched_by_source_predicates: Vec::new(),
    };
    let committed = CommitBuilder::from(commit::properties(spec, output))
        .with_actions(actions)
        .build(Some(snapshot), table.log_store(), operation)
        .await?;
    Ok(committed.version() as i64)
}

fn prepared_key_names(prepared: &Prepared) -> Vec<String> {
    prepared
        .codec
        .columns
        .iter()
        .map(|&i| prepared.loose.field(i).name().clone())
        .collect()
}
