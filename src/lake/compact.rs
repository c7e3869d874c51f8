//! Compaction: the table's small data files read and written again as files of about the
//! target size, committed as one `OPTIMIZE` commit of `remove`s and `add`s that all carry
//! `dataChange = false`, so a reader of any version sees the same rows and a streaming
//! reader sees no new data. delta-rs's own `optimize` needs its `datafusion` feature,
//! which Inlet does not build; the files are read with the merge's Parquet reader.
//!
//! Compaction always loses races: it commits with delta-rs's retries off, and when another
//! writer committed first it commits again on the new version only if every file it
//! rewrote is still in the table (a run's append does not touch them); otherwise it gives
//! up, deletes the files it wrote, and the next pass plans again. A run's commit that
//! meets a compaction's is redone once by the run itself (see `commit.rs`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, Remove};
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::protocol::DeltaOperation;
use deltalake::{DeltaTable, ObjectStore};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

use super::files::read_file;
use super::maintain::{Compaction, MaintenancePolicy};
use super::merge::prepare::fit;
use super::parallel::ParallelWriter;
use super::{Lake, LakeError};

/// Commit attempts of one compaction before it leaves the table to the next pass.
const MAX_ATTEMPTS: usize = 3;
/// Target files' worth of small files one compaction rewrites at most.
const PASS_TARGETS: u64 = 4;

struct SmallFile {
    path: String,
    size: u64,
    rows: Option<u64>,
    remove: Remove,
}

impl Lake {
    /// Compacts the table's small files (see the module docs). `Ok(Err(reason))` when it
    /// gave up because another writer changed those files first.
    pub(super) async fn compact(
        &self,
        dataset_id: &str,
        policy: &MaintenancePolicy,
    ) -> Result<Result<Compaction, String>, LakeError> {
        let started = Instant::now();
        let url = self.table_url(dataset_id)?;
        let Some(table) = self.open(&url).await? else {
            return Ok(Err("the table is gone".into()));
        };
        let mut small = small_files(&table, policy.small_file_bytes).await?;
        // A pass rewrites at most a few target files' worth, so it stays short (and its
        // lease with it); the next pass goes on with the rest.
        let budget = policy.target_file_bytes.saturating_mul(PASS_TARGETS);
        let mut taken = 0u64;
        small.retain(|f| {
            taken = taken.saturating_add(f.size);
            taken <= budget
        });
        if small.len() < 2 {
            return Ok(Err("fewer than two small files".into()));
        }
        let target = super::arrow_schema(&table)?;
        let store = table.log_store().object_store(None);
        let adds = self.rewrite(&url, &store, &small, &target, policy).await?;
        let rows_in: Option<u64> = small.iter().map(|f| f.rows).sum();
        let rows_out: Option<u64> = adds
            .iter()
            .map(|a| a.get_stats().ok().flatten().map(|s| s.num_records.max(0) as u64))
            .sum();
        if let (Some(before), Some(after)) = (rows_in, rows_out)
            && before != after
        {
            delete_files(&store, &adds).await;
            return Err(LakeError::Input(
                format!("compaction read {before} rows but wrote {after}; nothing was committed").into(),
            ));
        }
        let mut compaction = Compaction {
            table_version: 0,
            files_removed: small.len() as u64,
            bytes_removed: small.iter().map(|f| f.size).sum(),
            files_added: adds.len() as u64,
            bytes_added: adds.iter().map(|a| a.size.max(0) as u64).sum(),
            rows: rows_out.unwrap_or_default(),
            millis: 0,
        };
        let mut table = table;
        for attempt in 1..=MAX_ATTEMPTS {
            match commit(&table, &small, &adds, policy, &compaction).await {
                Ok(version) => {
                    compaction.table_version = version;
                    compaction.millis = started.elapsed().as_millis() as u64;
                    return Ok(Ok(compaction));
                }
                Err(error) => {
                    let base = table.version();
                    let Some(now) = self.open(&url).await? else {
                        return Err(error.into());
                    };
                    if now.version() == base {
                        // Nobody else committed: the failure was not a race.
                        delete_files(&store, &adds).await;
                        return Err(error.into());
                    }
                    if !still_there(&now, &small).await? {
                        delete_files(&store, &adds).await;
                        return Ok(Err("another writer changed the files being compacted".into()));
                    }
                    tracing::debug!(
                        dataset = dataset_id,
                        attempt,
                        "a run committed first; compaction commits again"
                    );
                    table = now;
                    tokio::time::sleep(Duration::from_millis(10 * attempt as u64)).await;
                }
            }
        }
        delete_files(&store, &adds).await;
        Ok(Err(format!("the table was busy for {MAX_ATTEMPTS} attempts")))
    }

    /// Writes the rows of `small`, file after file, into files of about the target size.
    async fn rewrite(
        &self,
        url: &url::Url,
        store: &Arc<dyn ObjectStore>,
        small: &[SmallFile],
        target: &SchemaRef,
        policy: &MaintenancePolicy,
    ) -> Result<Vec<Add>, LakeError> {
        let properties = super::parquet::writer_properties(self.inner.config.row_group_bytes, target);
        // One writer: several would each leave a partly filled file.
        let writer = self
            .writer(None, url, target, properties)?
            .with_target_file_size(policy.target_file_bytes);
        let mut writer = ParallelWriter::start(vec![writer]);
        let loose: SchemaRef = Arc::new(Schema::new(
            target
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        for file in small {
            let mut batches = read_file(store, &file.path, file.size).await?;
            while let Some(batch) = batches.next().await {
                // Older files may lack columns a later write added: those read as null.
                let batch = fit(&batch?, &loose)?;
                let strict = RecordBatch::try_new(target.clone(), batch.columns().to_vec())
                    .map_err(|e| LakeError::BadBatch(e.to_string()))?;
                writer.write(strict).await?;
            }
        }
        let mut adds = writer.finish().await?;
        for add in &mut adds {
            add.data_change = false;
        }
        Ok(adds)
    }
}

/// The table's files smaller than `bound`, without deletion vectors (their rows would
/// need the vector applied; Inlet never writes one).
async fn small_files(table: &DeltaTable, bound: u64) -> Result<Vec<SmallFile>, LakeError> {
    let files: Vec<SmallFile> = table
        .snapshot()?
        .snapshot()
        .file_views(table.log_store().as_ref(), None)
        .try_filter(|file| {
            futures::future::ready((file.size().max(0) as u64) < bound && file.deletion_vector_descriptor().is_none())
        })
        .map_ok(|file| SmallFile {
            path: file.path().to_string(),
            size: file.size().max(0) as u64,
            rows: file.num_records().map(|n| n as u64),
            remove: file.remove_action(false),
        })
        .try_collect()
        .await?;
    Ok(files)
}

/// Whether every file of `small` is still in the table's current version.
async fn still_there(table: &DeltaTable, small: &[SmallFile]) -> Result<bool, LakeError> {
    let live: HashSet<String> = table
        .snapshot()?
        .snapshot()
        .file_views(table.log_store().as_ref(), None)
        .map_ok(|file| file.path().to_string())
        .try_collect()
        .await?;
    Ok(small.iter().all(|f| live.contains(&f.path)))
}

async fn commit(
    table: &DeltaTable,
    small: &[SmallFile],
    adds: &[Add],
    policy: &MaintenancePolicy,
    compaction: &Compaction,
) -> Result<u64, deltalake::DeltaTableError> {
    let mut actions: Vec<Action> = small.iter().map(|f| Action::Remove(f.remove.clone())).collect();
    actions.extend(adds.iter().cloned().map(Action::Add));
    let properties = CommitProperties::default()
        .with_metadata([(
            "inletMaintenance".to_string(),
            json!({"filesRemoved": compaction.files_removed, "filesAdded": compaction.files_added,
                   "rows": compaction.rows}),
        )])
        .with_max_retries(0);
    let operation = DeltaOperation::Optimize {
        predicate: None,
        target_size: policy.target_file_bytes as i64,
    };
    let committed = CommitBuilder::from(properties)
        .with_actions(actions)
        .build(Some(table.snapshot()?), table.log_store(), operation)
        .await?;
    Ok(committed.version() as u64)
}

/// Deletes files a compaction wrote but did not commit (best effort: vacuum removes any
/// left behind once they are older than the retention).
async fn delete_files(store: &Arc<dyn ObjectStore>, adds: &[Add]) {
    for add in adds {
        if let Err(error) = store.delete(&deltalake::Path::from(add.path.as_str())).await {
            tracing::debug!(%error, path = %add.path, "could not delete an uncommitted compaction file");
        }
    }
}
