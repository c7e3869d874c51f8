//! Files rewritten with wider types, for a write whose commit widens columns
//! (`evolve.rs`): every file of the table is read back and written again with the new
//! schema, and the commit removes the old files and adds the copies, `dataChange = false`.

use deltalake::DeltaTable;
use deltalake::arrow::datatypes::SchemaRef;
use futures::StreamExt;
use url::Url;

use super::commit::Rewritten;
use super::files::{data_files, reader, store};
use super::{Lake, LakeError, schema};

/// Rewrites every data file of `table` with the schema `target`, whose types are equal to
/// or exact widenings of the files' own.
pub(super) async fn widened(
    lake: &Lake,
    url: &Url,
    table: &DeltaTable,
    target: &SchemaRef,
) -> Result<Rewritten, LakeError> {
    let files = data_files(table).await?;
    let store = store(table);
    let mut writer = lake.merge_writer(url, target)?;
    let mut removes = Vec::with_capacity(files.len());
    for file in files {
        let mut batches = reader(&store, &file, None).await?;
        while let Some(batch) = batches.next().await {
            let batch = batch?;
            if batch.num_rows() > 0 {
                writer.write(schema::conform(&batch, target)?).await?;
            }
        }
        let mut remove = file.remove;
        remove.data_change = false;
        removes.push(remove);
    }
    let mut adds = writer.finish().await?;
    for add in &mut adds {
        add.data_change = false;
    }
    tracing::info!(
        files = removes.len(),
        written = adds.len(),
        "rewrote the table's files with wider column types"
    );
    Ok(Rewritten { removes, adds })
}
