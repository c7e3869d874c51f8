//! The lake: one Delta Lake table per dataset, written through delta-rs over
//! `object_store`, on a local directory or an `s3://` prefix. Every delta-rs call in Inlet
//! lives in this module (see docs/lake.md).
//!
//! A write streams Arrow batches into Parquet files and then makes exactly one Delta
//! commit carrying a `txn` action (app id, version). The txn version is checked before
//! anything is written, which is what lets a window land exactly once across crashes,
//! retries and several workers.

mod commit;
mod compact;
mod config;
mod error;
mod evolve;
mod files;
mod history;
mod landed;
mod maintain;
mod merge;
mod parallel;
mod parquet;
mod probe;
mod rewrite;
mod schema;
mod snapshots;

pub use config::LakeConfig;
pub use deltalake::arrow;
pub use error::LakeError;
pub use evolve::{Difference, Evolution, differences, key_difference, widens};
pub use landed::{Landed, LandedCommit};
pub use maintain::{Compaction, Maintained, MaintenancePolicy, TableHealth};
pub use merge::{ChangeSet, ChangeStep};

use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::writer::RecordBatchWriter;
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures::{Stream, StreamExt};
use parallel::ParallelWriter;
use url::Url;

/// How a write treats the rows already in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Add the new rows to the table.
    Append,
    /// Make the new rows the whole table: the commit removes every current file, so a
    /// reader sees the old table or the new one, never a mix.
    Replace,
}

/// What the one Delta commit of a write carries.
#[derive(Clone, Debug)]
pub struct CommitSpec {
    pub mode: WriteMode,
    /// The Delta `txn` app id (a flow id): versions are counted per app id.
    pub app_id: String,
    /// The Delta `txn` version (a window sequence); a write is skipped when the table's
    /// txn version for `app_id` is already at or above it.
    pub txn_version: i64,
    /// Recorded in the commit's `commitInfo` as `runId`.
    pub run_id: String,
    /// Recorded in the commit's `commitInfo` as `batchId`, when the write has a batch.
    pub batch_id: Option<String>,
    /// For change data capture: the source's log position the commit brings the dataset
    /// to, recorded in `commitInfo` as `inletCdc.position`.
    pub cdc_position: Option<String>,
    /// When the commit lands several consecutive windows (catch-up), the first of them;
    /// `txn_version` is the last. Recorded in `commitInfo` as `inletWindows`.
    pub first_window: Option<i64>,
}

/// How a write ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The rows are in the table as of `table_version`.
    Committed {
        table_version: i64,
        files: usize,
        rows: u64,
        bytes: u64,
    },
    /// The table already holds `txn_version` (at or above the requested one) for this
    /// app id; nothing was written. This is also the answer when this very write's commit
    /// landed although storage reported a failure.
    AlreadyCommitted { txn_version: i64 },
}

/// The lake: where tables live and how they are written. Cheap to clone.
#[derive(Clone)]
pub struct Lake {
    inner: Arc<Inner>,
}

struct Inner {
    /// The root as a URL ending in `/`.
    root: Url,
    /// The root directory, when the lake is on the local file system.
    local: Option<PathBuf>,
    config: LakeConfig,
    snapshots: snapshots::Snapshots,
}

impl Lake {
    /// Opens the lake at `config.root`; a local root directory is created if missing.
    pub fn new(config: &LakeConfig) -> anyhow::Result<Lake> {
        crate::install_crypto_provider();
        probe::check_options(&config.storage_options)?;
        let (root, local) = config::root_url(&config.root)?;
        Ok(Lake {
            inner: Arc::new(Inner {
                root,
                local,
                config: config.clone(),
                snapshots: Default::default(),
            }),
        })
    }

    /// Checks that the store can be written and takes conditional writes (put-if-absent),
    /// on which concurrent commits to one table rely: run once at start-up, so a store
    /// that would let writers overwrite each other's commits is refused before any write.
    pub async fn check_store(&self) -> Result<(), LakeError> {
        probe::check_conditional_put(&self.inner.root, self.inner.config.storage_options.clone()).await
    }

    /// Where the dataset's Delta table lives: a directory path for a local lake, an
    /// `s3://` URL otherwise. Spark, DuckDB, Polars and delta-rs read it as it is.
    pub fn table_location(&self, dataset_id: &str) -> String {
        match &self.inner.local {
            Some(dir) => dir.join(dataset_id).display().to_string(),
            None => format!("{}{dataset_id}", self.inner.root),
        }
    }

    /// The table's txn version for `app_id`; `None` when the table or the txn is absent.
    pub async fn committed_version(&self, dataset_id: &str, app_id: &str) -> Result<Option<i64>, LakeError> {
        match self.open(&self.table_url(dataset_id)?).await? {
            Some(table) => txn_version(&table, app_id).await,
            None => Ok(None),
        }
    }

    /// The table's schema as Arrow types; `None` when no table exists yet.
    pub async fn table_schema(&self, dataset_id: &str) -> Result<Option<SchemaRef>, LakeError> {
        match self.open(&self.table_url(dataset_id)?).await? {
            Some(table) => Ok(Some(arrow_schema(&table)?)),
            None => Ok(None),
        }
    }

    /// Streams `batches` into Parquet files and makes exactly one Delta commit (see the
    /// module docs). The table is created with `schema` on the first write; a later write
    /// must have the table's columns and types. Memory stays bounded by the row group and
    /// upload buffers of its writers, whatever the stream's length.
    pub async fn write<E>(
        &self,
        dataset_id: &str,
        schema: SchemaRef,
        batches: impl Stream<Item = Result<RecordBatch, E>> + Send,
        commit: CommitSpec,
    ) -> Result<CommitOutcome, LakeError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.write_evolving(dataset_id, schema, batches, commit, &Evolution::default())
            .await
    }

    /// [`Lake::write`], changing the table's schema as `evolution` says in the same
    /// commit: columns added, widened (the files holding them rewritten with the wider
    /// type), kept but no longer given, left out. A reader sees the table before the
    /// write or after it, never the new schema without the rows or the other way round.
    pub async fn write_evolving<E>(
        &self,
        dataset_id: &str,
        schema: SchemaRef,
        batches: impl Stream<Item = Result<RecordBatch, E>> + Send,
        commit: CommitSpec,
        evolution: &Evolution,
    ) -> Result<CommitOutcome, LakeError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if evolution.replace && commit.mode != WriteMode::Replace {
            return Err(LakeError::BadBatch(
                "only a write that replaces every row may replace the table's schema".into(),
            ));
        }
        let url = self.table_url(dataset_id)?;
        let table = self.open(&url).await?;
        let data = schema::canonical(&schema)?;
        let (target, before) = match &table {
            Some(table) => {
                if let Some(done) = txn_version(table, &commit.app_id).await?
                    && done >= commit.txn_version
                {
                    return Ok(CommitOutcome::AlreadyCommitted { txn_version: done });
                }
                let before = arrow_schema(table)?;
                let target = evolution.target(&before, &data)?;
                schema::check_writable(
                    dataset_id,
                    &target,
                    &data,
                    &evolve::kept_columns(&target),
                    &evolution.ignore,
                )?;
                (target, Some(before))
            }
            None => (data, None),
        };
        let properties = parquet::writer_properties(self.inner.config.row_group_bytes, &target);
        // delta-rs's writer for a table takes the table's schema: a new schema needs its own.
        let same_schema = before.as_ref().is_some_and(|b| **b == *target);
        let writers = (0..self.inner.config.writers.max(1))
            .map(|_| {
                self.writer(
                    table.as_ref().filter(|_| same_schema),
                    &url,
                    &target,
                    properties.clone(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        // On an error the writer is dropped, which aborts open uploads; files already
        // closed stay behind, outside the log.
        let mut writer = ParallelWriter::start(writers);
        let fitting = Fitting {
            dataset: dataset_id,
            target: &target,
            evolution,
        };
        let rows = stream_into(&mut writer, &fitting, batches).await?;
        let adds = writer.finish().await?;
        let change = match (&table, before) {
            (Some(table), Some(before)) if *before != *target => {
                // A replace removes every file anyway: only an append keeps old files.
                let rewritten = match (commit.mode, evolution.widen.is_empty()) {
                    (WriteMode::Append, false) => Some(rewrite::widened(self, &url, table, &target).await?),
                    _ => None,
                };
                Some(commit::SchemaUpdate { rewritten })
            }
            _ => None,
        };
        commit::commit(self, &url, dataset_id, table, &target, (adds, change), rows, &commit).await
    }

    /// Deletes files under the dataset's table that no table version needs any more and
    /// that are older than `older_than`: files of writes that never committed, and files
    /// removed by a replace. Returns how many were deleted. Never call it with an age
    /// shorter than the longest write, or a write in progress loses its files.
    pub async fn remove_orphans(&self, dataset_id: &str, older_than: std::time::Duration) -> Result<usize, LakeError> {
        let Some(table) = self.open(&self.table_url(dataset_id)?).await? else {
            return Ok(0);
        };
        let retention = chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        let (_, metrics) = table
            .vacuum()
            .with_mode(deltalake::operations::vacuum::VacuumMode::Full)
            .with_retention_period(retention)
            .with_enforce_retention_duration(false)
            .await?;
        Ok(metrics.files_deleted.len())
    }

    /// The table's URL, ending in `/`. Dataset ids become one path segment, so they are
    /// limited to characters that cannot climb out of the root.
    fn table_url(&self, dataset_id: &str) -> Result<Url, LakeError> {
        let valid = !dataset_id.is_empty()
            && dataset_id.len() <= 128
            && dataset_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(LakeError::InvalidDatasetId(dataset_id.to_string()));
        }
        Ok(self
            .inner
            .root
            .join(&format!("{dataset_id}/"))
            .expect("a plain segment joins"))
    }

    /// The table at `url` as of now, or `None` when there is no Delta table there yet: the
    /// snapshot kept from the last open brought up to date, or loaded afresh (see
    /// `snapshots.rs`).
    async fn open(&self, url: &Url) -> Result<Option<DeltaTable>, LakeError> {
        // A local directory without a log is no table; delta-rs would fail on a missing one.
        if self.inner.local.is_some()
            && let Ok(dir) = url.to_file_path()
            && !dir.join("_delta_log").is_dir()
        {
            return Ok(None);
        }
        // Kept for local lakes only: on S3 a kept table's client failed its next request
        // ("dispatch task gone") when commits raced (tests/it/s3.rs), so an object-store
        // table is loaded afresh at every open, as before the cache.
        let cached = self.inner.local.is_some();
        if let Some(mut table) = self.inner.snapshots.get(url).filter(|_| cached) {
            match table.update_incremental(None).await {
                Ok(()) => {
                    self.inner.snapshots.put(url, &table);
                    return Ok(Some(table));
                }
                Err(error) => {
                    // Loaded afresh below, which reports the error if it persists.
                    tracing::debug!(%error, "refreshing a kept table snapshot failed");
                    self.inner.snapshots.forget(url);
                }
            }
        }
        let mut table = self.builder(url)?.build()?;
        match table.load().await {
            Ok(()) => {
                if cached {
                    self.inner.snapshots.put(url, &table);
                }
                Ok(Some(table))
            }
            Err(DeltaTableError::NotATable(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    fn builder(&self, url: &Url) -> Result<DeltaTableBuilder, LakeError> {
        Ok(DeltaTableBuilder::from_url(url.clone())?.with_storage_options(self.inner.config.storage_options.clone()))
    }

    fn writer(
        &self,
        table: Option<&DeltaTable>,
        url: &Url,
        schema: &SchemaRef,
        properties: WriterProperties,
    ) -> Result<RecordBatchWriter, LakeError> {
        let writer = match table {
            Some(table) => RecordBatchWriter::for_table(table)?,
            None => RecordBatchWriter::try_new(
                url.as_str(),
                schema.clone(),
                None,
                Some(self.inner.config.storage_options.clone()),
            )?,
        };
        Ok(writer
            .with_writer_properties(properties)
            .with_target_file_size(self.inner.config.target_file_bytes))
    }
}

/// What batches are fitted to: the table's schema after the write, and what may differ.
struct Fitting<'a> {
    dataset: &'a str,
    target: &'a SchemaRef,
    evolution: &'a Evolution,
}

/// Writes every batch of the stream, fitted to the target; returns the row count.
async fn stream_into<E>(
    writer: &mut ParallelWriter,
    fitting: &Fitting<'_>,
    batches: impl Stream<Item = Result<RecordBatch, E>> + Send,
) -> Result<u64, LakeError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut batches = pin!(batches);
    let mut checked: Option<SchemaRef> = None;
    let mut rows = 0u64;
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(|e| LakeError::Input(e.into()))?;
        if checked.as_ref() != Some(&batch.schema()) {
            // Each distinct batch schema is checked once, so a lossy cast can never slip in.
            let data = schema::canonical(&batch.schema())?;
            let Fitting {
                dataset,
                target,
                evolution,
            } = fitting;
            schema::check_writable(dataset, target, &data, &evolve::kept_columns(target), &evolution.ignore)?;
            checked = Some(batch.schema());
        }
        if batch.num_rows() == 0 {
            continue;
        }
        rows += batch.num_rows() as u64;
        writer.write(schema::conform(&batch, fitting.target)?).await?;
    }
    Ok(rows)
}

async fn txn_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>, LakeError> {
    Ok(table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), app_id)
        .await?)
}

/// The table's schema as Arrow types, each column with Inlet's own marks (`evolve.rs`),
/// which delta-rs's conversion would leave out.
fn arrow_schema(table: &DeltaTable) -> Result<SchemaRef, LakeError> {
    let snapshot = table.snapshot()?;
    let kernel = snapshot.schema();
    let schema: arrow::datatypes::Schema = kernel.as_ref().try_into_arrow()?;
    let fields: Vec<arrow::datatypes::Field> = schema
        .fields()
        .iter()
        .map(|field| match kernel.field(field.name()) {
            Some(column) => evolve::with_marks(field, column.metadata()),
            None => field.as_ref().clone(),
        })
        .collect();
    Ok(Arc::new(arrow::datatypes::Schema::new(fields)))
}

/// Compile-time check: a write can run on another task (workers `tokio::spawn` them).
#[allow(dead_code)]
fn writes_are_send(lake: &Lake, schema: SchemaRef, commit: CommitSpec) {
    fn send<T: Send>(_: T) {}
    send(lake.write(
        "d",
        schema,
        futures::stream::empty::<Result<RecordBatch, std::io::Error>>(),
        commit,
    ));
}
