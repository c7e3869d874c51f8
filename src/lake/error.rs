//! Why a lake operation failed.

use deltalake::DeltaTableError;
use deltalake::arrow::error::ArrowError;

/// A failure of the lake. Messages name the dataset and the columns involved; they never
/// carry storage credentials (those live in storage options, not in locations).
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// A dataset id that cannot be one path segment of a table location.
    #[error("`{0}` is not a valid dataset id for a table location")]
    InvalidDatasetId(String),
    /// The data's columns differ from the table's.
    #[error("the data does not fit the table of dataset {dataset}: {}", .differences.join("; "))]
    SchemaMismatch {
        dataset: String,
        /// One entry per differing column, naming it.
        differences: Vec<String>,
    },
    /// A column type that a Delta table cannot hold without changing values.
    #[error("column `{column}` has type {data_type}, which a Delta table cannot hold exactly: {hint}")]
    UnsupportedType {
        column: String,
        data_type: String,
        hint: String,
    },
    /// A batch's values do not fit the table (e.g. nulls in a non-nullable column).
    #[error("a batch does not fit the table: {0}")]
    BadBatch(String),
    /// The stream of batches failed; nothing was committed.
    #[error("the data stream failed: {0}")]
    Input(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Other writers kept committing first; nothing was committed.
    #[error(
        "the commit to the table of dataset {dataset} conflicted with other writers {attempts} times; nothing was committed"
    )]
    Conflict { dataset: String, attempts: usize },
    /// The store would let concurrent commits overwrite each other (no conditional writes).
    #[error(
        "the lake at {root} cannot take commits from several writers safely: {reason}. Inlet needs a store with \
         conditional writes (put-if-absent: AWS S3, MinIO, Cloudflare R2, SeaweedFS 4.x; see docs/lake.md)"
    )]
    UnsafeStore { root: String, reason: String },
    /// A storage option that would make commits unsafe, or that delta-rs ignores.
    #[error("the lake's storage option {name} is refused: {reason}")]
    RefusedOption { name: String, reason: String },
    /// The store could not be written at all (credentials, bucket, network).
    #[error("cannot write to the lake at {0}: {1}")]
    Unreachable(String, String),
    /// Storage or the Delta log failed.
    #[error("Delta Lake: {0}")]
    Delta(#[from] DeltaTableError),
    /// A data file could not be read.
    #[error("Parquet: {0}")]
    Parquet(#[from] deltalake::parquet::errors::ParquetError),
    /// Arrow failed.
    #[error("Arrow: {0}")]
    Arrow(#[from] ArrowError),
}
