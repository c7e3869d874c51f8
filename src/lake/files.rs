//! A table's data files as the log lists them, and reading one back as Arrow batches:
//! shared by the merge (files holding touched keys), schema changes (files rewritten with
//! a wider type) and maintenance.

use std::sync::Arc;

use arrow_array::RecordBatch;
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

use super::LakeError;

/// Rows per batch read back from a data file.
const BATCH_ROWS: usize = 8192;

/// One data file of a table version.
pub(super) struct DataFile {
    pub(super) path: String,
    /// The action that removes it (`dataChange = true`).
    pub(super) remove: Remove,
    /// Its statistics as the log holds them (JSON), if any.
    pub(super) stats: Option<String>,
    pub(super) rows: u64,
    pub(super) size: u64,
}

/// The data files of the table's loaded version.
pub(super) async fn data_files(table: &DeltaTable) -> Result<Vec<DataFile>, LakeError> {
    let log_store = table.log_store();
    Ok(table
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
        .await?)
}

/// The table's object store, rooted at the table.
pub(super) fn store(table: &DeltaTable) -> Arc<dyn ObjectStore> {
    table.log_store().object_store(None)
}

/// A stream of a data file's record batches.
pub(super) type FileBatches = futures::stream::BoxStream<'static, Result<RecordBatch, ParquetError>>;

/// The batches of `file`, of the `columns` named (all when `None`).
pub(super) async fn reader(
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
    Ok(builder.with_batch_size(BATCH_ROWS).build()?.boxed())
}

/// Every row of the data file at `path` (relative to the table), `size` bytes long.
pub(super) async fn read_file(store: &Arc<dyn ObjectStore>, path: &str, size: u64) -> Result<FileBatches, LakeError> {
    let builder = open_file(store, path, size).await?;
    Ok(builder.with_batch_size(BATCH_ROWS).build()?.boxed())
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
