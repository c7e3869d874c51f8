//! The read side of a source: what to read ([`ReadRequest`]), what comes back (a stream of
//! Arrow record batches with a fixed schema, [`ReadStream`]), and the one mapping from
//! Inlet's types to Arrow's ([`arrow_field`]), shared by every source.
//!
//! Arrow is the only format between a source and the lake. Memory is bounded by the
//! number of partitions × the channel depth × the batch size, never by the table.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use futures::stream::BoxStream;

use super::schema::{ColumnInfo, TableSchema};
use super::types::InletType;
use super::{SourceError, SourceErrorKind, TableRef};
use crate::schema_changes::SOURCE_POSITION;

pub(crate) mod calendar;
pub(crate) mod merge;
pub mod skip;
pub(crate) mod text;
pub mod window;

pub use skip::{RowId, SkippedRow};

/// Arrow's widest decimal: values that need more digits fail loudly.
pub const MAX_DECIMAL_PRECISION: u32 = 38;
/// The scale given to a numeric column declared without one.
pub const UNCONSTRAINED_NUMERIC_SCALE: i8 = 18;

/// Rows whose `column` falls in `[start, end)`; a `None` bound is open. Bounds are
/// microseconds since the Unix epoch (UTC instants); a `timestamp without time zone`
/// column is compared as the bound's wall time in `timezone` (an IANA name, `UTC` by
/// default), a `date` column by the bound's date in `timezone` (docs/reading.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowFilter {
    pub column: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub timezone: String,
}

/// What a run reads from a source.
#[derive(Clone, Debug)]
pub struct ReadRequest {
    pub table: TableRef,
    /// Columns to read, in this order; all columns when `None`.
    pub columns: Option<Vec<String>>,
    /// Only the rows of this window; the whole table when `None`.
    pub window: Option<WindowFilter>,
    /// Parallel partitions to read the table in (1 = one stream). A source may read in
    /// fewer when the table is small or cannot be split.
    pub partitions: usize,
    /// Rows per record batch.
    pub batch_rows: usize,
    /// Batches buffered per partition before reading pauses (backpressure).
    pub channel_depth: usize,
    /// What to do with a row holding a value its column cannot hold exactly.
    pub on_bad_value: BadValue,
}

/// What a read does with a row holding a value no lake column can hold exactly (NaN or
/// ±Infinity in a decimal, a decimal too wide for its column, an infinite or out-of-range
/// date or timestamp, text that is not UTF-8, a multi-dimensional array). Bytes that do
/// not have their type's form fail the read either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BadValue {
    /// The read fails with `UNSUPPORTED`, naming the table, the column and the value.
    #[default]
    Fail,
    /// The whole row is left out (never a NULL or a rounded value in its place), counted
    /// in [`ReadProgress::failed_rows`] and, for the first [`skip::MAX_DESCRIBED_ROWS`],
    /// described in [`ReadProgress::skipped_rows`].
    Skip,
}

/// Counters that grow while a read is in progress, for run metrics and progress bars.
#[derive(Debug, Default)]
pub struct ReadProgress {
    rows: AtomicU64,
    bytes: AtomicU64,
    failed: AtomicU64,
    skipped: Mutex<Vec<SkippedRow>>,
}

impl ReadProgress {
    /// Adds rows and wire bytes read.
    pub fn add(&self, rows: u64, bytes: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Adds `count` rows skipped, of which `described` are described (kept while fewer
    /// than [`skip::MAX_DESCRIBED_ROWS`] are).
    pub fn add_skipped(&self, count: u64, described: Vec<SkippedRow>) {
        if !described.is_empty() {
            let mut skipped = self.skipped.lock().unwrap_or_else(|e| e.into_inner());
            let room = skip::MAX_DESCRIBED_ROWS.saturating_sub(skipped.len());
            skipped.extend(described.into_iter().take(room));
        }
        self.failed.fetch_add(count, Ordering::Relaxed);
    }

    /// Rows handed over in batches so far (skipped rows are not among them).
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Rows skipped so far ([`BadValue::Skip`]) because a value could not be represented.
    pub fn failed_rows(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The first skipped rows, described (at most [`skip::MAX_DESCRIBED_ROWS`]).
    pub fn skipped_rows(&self) -> Vec<SkippedRow> {
        self.skipped.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Bytes received from the source so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// A read in progress.
pub struct ReadStream {
    /// The columns being read, as the source describes them.
    pub table: TableSchema,
    /// The Arrow schema of every batch.
    pub schema: SchemaRef,
    /// The batches, from all partitions interleaved. The stream ends after the last
    /// batch, or with the first error (a value that cannot be represented exactly, unless
    /// the request skips such rows; a broken connection), after which nothing more is
    /// produced. Skipped rows are counted in `progress` before the stream ends.
    pub batches: BoxStream<'static, Result<RecordBatch, SourceError>>,
    /// Rows, bytes and skipped rows read so far.
    pub progress: Arc<ReadProgress>,
    /// The source's estimate of the rows to read (from its statistics), if any.
    pub estimated_rows: Option<u64>,
}

/// The Arrow field of a source column: Inlet's type decides it.
///
/// | Inlet type | Arrow type |
/// |---|---|
/// | integer | Int32 (smallint widened, exactly) |
/// | long | Int64 |
/// | double | Float64 (real widened, exactly) |
/// | decimal(p, s) | Decimal128(p, s); unconstrained numeric: Decimal128(38, 18); p > 38: error |
/// | boolean | Boolean |
/// | date | Date32 |
/// | date-time | Timestamp(µs) without zone, or with zone `UTC` for `timestamptz` |
/// | string | Utf8 |
/// | binary | Binary |
/// | array of T | List of T (elements nullable) |
pub fn arrow_field(column: &ColumnInfo) -> Result<Field, SourceError> {
    let data_type = arrow_type(&column.inlet_type).map_err(|reason| {
        SourceError::new(
            SourceErrorKind::Unsupported,
            format!("column `{}` ({}): {reason}", column.name, column.original_type),
        )
    })?;
    let field = Field::new(&column.name, data_type, column.nullable);
    Ok(match column.position {
        Some(position) => field.with_metadata(HashMap::from([(SOURCE_POSITION.to_string(), position.to_string())])),
        None => field,
    })
}

/// The Arrow schema of `table`'s columns, by [`arrow_field`].
pub fn arrow_schema(table: &TableSchema) -> Result<SchemaRef, SourceError> {
    let fields: Vec<Field> = table.columns.iter().map(arrow_field).collect::<Result<_, _>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// The columns of `schema` named in `names`, in that order (all of them when `None`).
/// A name the table does not have (or the user may not read) is an error, as is a name
/// asked for twice.
pub fn select_columns(schema: &TableSchema, names: Option<&[String]>) -> Result<TableSchema, SourceError> {
    let Some(names) = names else {
        return Ok(schema.clone());
    };
    let mut columns: Vec<ColumnInfo> = Vec::with_capacity(names.len());
    for name in names {
        let Some(column) = schema.columns.iter().find(|c| &c.name == name) else {
            let message = format!("{} has no column `{name}` that you may read", schema.table);
            return Err(SourceError::new(SourceErrorKind::ColumnNotFound, message));
        };
        if columns.iter().any(|c| &c.name == name) {
            let message = format!("column `{name}` is asked for twice");
            return Err(SourceError::new(SourceErrorKind::ColumnNotFound, message));
        }
        columns.push(column.clone());
    }
    Ok(TableSchema {
        table: schema.table.clone(),
        columns,
    })
}

/// Why one value cannot be put into its Arrow column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueIssue {
    /// A well-formed value the column cannot hold exactly: its text, and why not.
    CannotHold { value: String, reason: String },
    /// Bytes or text that do not have the form the column's type promises.
    Malformed(String),
}

impl ValueIssue {
    /// `value` (as the source writes it) cannot be held, because it `reason`s, e.g.
    /// `("NaN", "a decimal column cannot hold")`.
    pub fn cannot_hold(value: impl Into<String>, reason: impl Into<String>) -> ValueIssue {
        let reason = reason.into();
        ValueIssue::CannotHold {
            value: value.into(),
            reason,
        }
    }

    /// The value does not have the form of its type: `what` says how.
    pub fn malformed(what: impl Into<String>) -> ValueIssue {
        ValueIssue::Malformed(what.into())
    }

    /// Whether `on_bad_value` lets a read skip the row holding this value: only values
    /// the column cannot hold; bytes without their type's form mean something broke.
    pub fn skippable(&self, on_bad_value: BadValue) -> bool {
        on_bad_value == BadValue::Skip && matches!(self, ValueIssue::CannotHold { .. })
    }

    /// The read's error for this issue, naming the table and the column:
    /// `public.t.amount holds NaN, which a decimal column cannot hold`.
    pub fn error(self, table: &TableRef, column: &str) -> SourceError {
        let message = match self {
            ValueIssue::CannotHold { value, reason } => {
                format!("{table}.{column} holds {}, which {reason}", skip::shown(&value))
            }
            ValueIssue::Malformed(what) => format!("{table}.{column}: {what}"),
        };
        SourceError::new(SourceErrorKind::Unsupported, message)
    }
}

fn arrow_type(inlet: &InletType) -> Result<DataType, String> {
    Ok(match inlet {
        InletType::Integer => DataType::Int32,
        InletType::Long => DataType::Int64,
        InletType::Double => DataType::Float64,
        InletType::Decimal { precision: None, .. } => {
            DataType::Decimal128(MAX_DECIMAL_PRECISION as u8, UNCONSTRAINED_NUMERIC_SCALE)
        }
        InletType::Decimal {
            precision: Some(p),
            scale,
        } => {
            if *p > MAX_DECIMAL_PRECISION {
                return Err(format!(
                    "precision {p} is more than the {MAX_DECIMAL_PRECISION} digits a lake decimal holds"
                ));
            }
            let scale = scale.unwrap_or(0);
            if scale < 0 || scale > *p as i32 {
                return Err(format!("scale {scale} is outside 0..={p}"));
            }
            DataType::Decimal128(*p as u8, scale as i8)
        }
        InletType::Boolean => DataType::Boolean,
        InletType::Date => DataType::Date32,
        InletType::Timestamp { with_zone: false } => DataType::Timestamp(TimeUnit::Microsecond, None),
        InletType::Timestamp { with_zone: true } => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        InletType::String => DataType::Utf8,
        InletType::Binary => DataType::Binary,
        InletType::Array(inner) => DataType::List(Arc::new(Field::new("element", arrow_type(inner)?, true))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(inlet: InletType) -> ColumnInfo {
        ColumnInfo {
            name: "c".into(),
            inlet_type: inlet,
            original_type: "t".into(),
            source_type: "t".into(),
            nullable: true,
            position: None,
        }
    }

    #[test]
    fn every_inlet_type_has_one_arrow_type() {
        let decimal = |precision, scale| column(InletType::Decimal { precision, scale });
        assert_eq!(
            arrow_field(&decimal(Some(38), Some(10))).unwrap().data_type(),
            &DataType::Decimal128(38, 10)
        );
        assert_eq!(
            arrow_field(&decimal(None, None)).unwrap().data_type(),
            &DataType::Decimal128(38, 18)
        );
        assert_eq!(
            arrow_field(&decimal(Some(50), Some(2))).unwrap_err().kind,
            SourceErrorKind::Unsupported
        );
        assert_eq!(
            arrow_field(&decimal(Some(5), Some(-2))).unwrap_err().kind,
            SourceErrorKind::Unsupported
        );
        let tz = arrow_field(&column(InletType::Timestamp { with_zone: true })).unwrap();
        assert_eq!(
            tz.data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        let list = arrow_field(&column(InletType::Array(Box::new(InletType::Integer)))).unwrap();
        assert!(matches!(list.data_type(), DataType::List(f) if f.data_type() == &DataType::Int32 && f.is_nullable()));
    }
}
