//! Where runs write: the [`Target`] the engine is given. The lake is its implementation;
//! the engine's unit tests give it a fake.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use futures::stream::BoxStream;

use super::failure::RunFailure;
use crate::lake::{ChangeSet, CommitOutcome, CommitSpec, Evolution, Lake, LakeError, Landed};

/// The batches of one run, ending with its failure if it fails.
pub type Batches = BoxStream<'static, Result<RecordBatch, RunFailure>>;

/// The datasets runs write to.
#[async_trait]
pub trait Target: Send + Sync {
    /// `Some` when window `window` of flow `app_id` has landed in `dataset`.
    async fn landed(&self, dataset: &str, app_id: &str, window: i64) -> Result<Option<Landed>, LakeError>;

    /// Writes `batches` and makes exactly one commit carrying `spec`'s txn, unless the
    /// window has landed already; the commit changes the dataset's schema as `evolution`
    /// says.
    async fn write(
        &self,
        dataset: &str,
        (schema, evolution): (SchemaRef, &Evolution),
        batches: Batches,
        spec: CommitSpec,
    ) -> Result<CommitOutcome, LakeError>;

    /// Merges `changes` into `dataset` by key in exactly one commit carrying `spec`'s
    /// txn, unless the window has landed already.
    async fn merge(&self, dataset: &str, changes: ChangeSet, spec: CommitSpec) -> Result<CommitOutcome, LakeError>;

    /// The table's txn version for `app_id`; `None` when the table or the txn is absent.
    async fn txn_version(&self, dataset: &str, app_id: &str) -> Result<Option<i64>, LakeError>;

    /// The dataset's schema, once it has a table.
    async fn schema(&self, dataset: &str) -> Result<Option<SchemaRef>, LakeError>;
}

#[async_trait]
impl Target for Lake {
    async fn landed(&self, dataset: &str, app_id: &str, window: i64) -> Result<Option<Landed>, LakeError> {
        Lake::landed(self, dataset, app_id, window).await
    }

    async fn write(
        &self,
        dataset: &str,
        (schema, evolution): (SchemaRef, &Evolution),
        batches: Batches,
        spec: CommitSpec,
    ) -> Result<CommitOutcome, LakeError> {
        Lake::write_evolving(self, dataset, schema, batches, spec, evolution).await
    }

    async fn merge(&self, dataset: &str, changes: ChangeSet, spec: CommitSpec) -> Result<CommitOutcome, LakeError> {
        Lake::merge(self, dataset, changes, spec).await
    }

    async fn txn_version(&self, dataset: &str, app_id: &str) -> Result<Option<i64>, LakeError> {
        self.committed_version(dataset, app_id).await
    }

    async fn schema(&self, dataset: &str) -> Result<Option<SchemaRef>, LakeError> {
        self.table_schema(dataset).await
    }
}
