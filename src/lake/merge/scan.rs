//! The table's side of a merge: which data files hold keys the changes touch, their other
//! rows written again, and the rows that fill values the changes left unchanged.

use std::collections::HashSet;

use arrow_array::{BooleanArray, RecordBatch, UInt32Array};
use arrow_select::filter::filter_record_batch;
use arrow_select::take::take_record_batch;
use deltalake::DeltaTable;
use deltalake::ObjectStore;
use deltalake::kernel::Remove;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::parquet::arrow::ProjectionMask;
use deltalake::parquet::arrow::arrow_reader::ArrowReaderOptions;
use deltalake::parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use deltalake::parquet::errors::ParquetError;
use deltalake::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;

use super::Base;
use super::fold::Key;
use super::prepare::{Prepared, fit};
use crate::lake::{Lake, LakeError};

/// What reading the table found.
pub(super) struct Scanned {
    /// The files that held touched keys.
    pub removes: Vec<Remove>,
    /// Their other rows, written again.
    pub rewritten: Vec<deltalake::kernel::Add>,
    pub base: Base,
    /// Rows the changes deleted.
    pub deleted: u64,
}

struct DataFile {
    path: String,
    remove: Remove,
    stats: Option<String>,
    rows: u64,
    size: u64,
}

/// Reads the files of `table` that may hold a key of `prepared`'s changes.
pub(super) async fn scan(
    lake: &Lake,
    url: &url::Url,
    table: &DeltaTable,
    prepared: &Prepared,
) -> Result<Scanned, LakeError> {
    let log_store = table.log_store();
    let files: Vec<DataFile> = table
        .snapshot()?
        .snapshot()
        .file_views(log_store.as_ref(), None)
        .map_ok(|file| DataFile {
            path: file.path().to_string(),
            remove: file.remove_action(true),
            stats: file.stats(),
            rows: file.num_records().unwrap_or(0) as u64,
            size: file.size().max(0) as u64,
        })
        .try_collect()
        .await?;
    if prepared.folded.truncated {
        return Ok(Scanned {
            deleted: files.iter().map(|f| f.rows).sum(),
            removes: files.into_iter().map(|f| f.remove).collect(),
            rewritten: Vec::new(),
            base: Base::default(),
        });
    }
    let store = log_store.object_store(None);
    let needed: HashSet<&Key> = prepared.folded.base_keys().collect();
    let mut writer = lake.merge_writer(url, &prepared.target)?;
    let mut scanned = Scanned {
        removes: Vec::new(),
        rewritten: Vec::new(),
        base: Base::default(),
        deleted: 0,
    };
    for file in files {
        if !may_hold(prepared, file.stats.as_deref()) || !touches(&store, &file, prepared).await? {
            continue;
        }
        let mut batches = reader(&store, &file, None).await?;
        while let Some(batch) = batches.next().await {
            let batch = fit(&batch?, &prepared.loose)?;
            let keys = prepared.codec.keys(&batch, &prepared.codec.columns)?;
            let mut keep = Vec::with_capacity(keys.len());
            let mut fills = Vec::new();
            for (row, key) in keys.iter().enumerate() {
                match prepared.folded.keys.get(key) {
                    None => keep.push(true),
                    Some(state) => {
                        keep.push(false);
                        scanned.deleted += u64::from(state.is_none());
                        if needed.contains(key) {
                            fills.push((row as u32, key.clone()));
                        }
                    }
                }
            }
            if !fills.is_empty() {
                let rows = UInt32Array::from_iter_values(fills.iter().map(|(row, _)| *row));
                let at = scanned.base.batches.len();
                scanned.base.batches.push(take_record_batch(&batch, &rows)?);
                for (index, (_, key)) in fills.into_iter().enumerate() {
                    scanned.base.rows.insert(key, (at, index));
                }
            }
            let survivors = filter_record_batch(&batch, &BooleanArray::from(keep))?;
            if survivors.num_rows() > 0 {
                let strict = RecordBatch::try_new(prepared.target.clone(), survivors.columns().to_vec())
                    .map_err(|e| LakeError::BadBatch(e.to_string()))?;
                writer.write(strict).await?;
            }
        }
        scanned.removes.push(file.remove);
    }
    scanned.rewritten = writer.finish().await?;
    Ok(scanned)
}

/// Whether a file may hold a touched key, by its statistics: only an integer key's range
/// can rule it out.
fn may_hold(prepared: &Prepared, stats: Option<&str>) -> bool {
    let (Some(values), Some(stats)) = (&prepared.integer_keys, stats) else {
        return true;
    };
    let Ok(stats) = serde_json::from_str::<serde_json::Value>(stats) else {
        return true;
    };
    let name = prepared.loose.field(prepared.codec.columns[0]).name();
    let (Some(min), Some(max)) = (stats["minValues"][name].as_i64(), stats["maxValues"][name].as_i64()) else {
        return true;
    };
    let first = values.partition_point(|v| *v < min);
    values.get(first).is_some_and(|v| *v <= max)
}

/// Whether `file` holds a touched key, reading its key columns only.
async fn touches(store: &Arc<dyn ObjectStore>, file: &DataFile, prepared: &Prepared) -> Result<bool, LakeError> {
    let names: Vec<&str> = prepared
        .codec
        .columns
        .iter()
        .map(|&i| prepared.loose.field(i).name().as_str())
        .collect();
    let mut batches = reader(store, file, Some(&names)).await?;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        let positions: Vec<usize> = names
            .iter()
            .map(|name| batch.schema().index_of(name))
            .collect::<Result<_, _>>()?;
        let keys = key_batch(&batch, &positions, prepared)?;
        if keys.iter().any(|key| prepared.folded.keys.contains_key(key)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The keys of a batch of key columns, cast to the merge's key types.
fn key_batch(batch: &RecordBatch, positions: &[usize], prepared: &Prepared) -> Result<Vec<Key>, LakeError> {
    let arrays = positions
        .iter()
        .zip(&prepared.codec.columns)
        .map(|(&at, &column)| {
            let wanted = prepared.loose.field(column).data_type();
            let array = batch.column(at);
            if array.data_type() == wanted {
                Ok(array.clone())
            } else {
                deltalake::arrow::compute::cast(array, wanted)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rows = prepared.codec.converter.convert_columns(&arrays)?;
    Ok(rows.iter().map(|row| row.as_ref().into()).collect())
}

pub(in crate::lake) type FileBatches = futures::stream::BoxStream<'static, Result<RecordBatch, ParquetError>>;

/// The batches of `file`, of the `columns` named (all when `None`).
async fn reader(
    store: &Arc<dyn ObjectStore>,
    file: &DataFile,
    columns: Option<&[&str]>,
) -> Result<FileBatches, LakeError> {
    let mut builder = open_file(store, &file.path, file.size).await?;
    if let Some(columns) = columns {
        let roots = columns
            .iter()
            .map(|name| builder.schema().index_of(name))
            .collect::<Result<Vec<_>, _>>()?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    Ok(builder.with_batch_size(super::BATCH_ROWS).build()?.boxed())
}

/// Every row of the data file at `path` (relative to the table), `size` bytes long, in
/// batches of at most [`super::BATCH_ROWS`] rows (also what compaction reads).
pub(in crate::lake) async fn read_file(
    store: &Arc<dyn ObjectStore>,
    path: &str,
    size: u64,
) -> Result<FileBatches, LakeError> {
    let builder = open_file(store, path, size).await?;
    Ok(builder.with_batch_size(super::BATCH_ROWS).build()?.boxed())
}

async fn open_file(
    store: &Arc<dyn ObjectStore>,
    path: &str,
    size: u64,
) -> Result<ParquetRecordBatchStreamBuilder<ObjectFile>, LakeError> {
    let reader = ObjectFile {
        store: store.clone(),
        path: deltalake::Path::from(path),
        size,
    };
    Ok(ParquetRecordBatchStreamBuilder::new(reader).await?)
}

/// A Parquet file in the table's object store, read by ranges; its size comes from the
/// log, so no request asks for it.
struct ObjectFile {
    store: Arc<dyn ObjectStore>,
    path: deltalake::Path,
    size: u64,
}

impl AsyncFileReader for ObjectFile {
    fn get_bytes(&mut self, range: std::ops::Range<u64>) -> BoxFuture<'_, Result<bytes::Bytes, ParquetError>> {
        Box::pin(async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        })
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>, ParquetError>> {
        Box::pin(async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new().load_and_finish(self, size).await?;
            Ok(Arc::new(metadata))
        })
    }
}
