//! Skipping rows that hold a value no lake column can hold exactly ([`BadValue::Skip`]):
//! which rows were skipped ([`SkippedRow`], [`RowId`]), what a read selects besides the
//! columns to say so ([`RowIdentity`]), and how a batch loses them ([`without_rows`]).
//!
//! A reader that meets such a value in Skip mode appends a placeholder (NULL) to that
//! column and to the rest of the row, and notes the row's index in the batch; when the
//! batch is complete, the marked rows are filtered out. So builders never roll back, a
//! placeholder never reaches the lake, and the Fail path pays nothing per row.
//!
//! [`BadValue::Skip`]: super::BadValue::Skip

use std::fmt;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow_buffer::BooleanBufferBuilder;
use arrow_schema::{ArrowError, SchemaRef};
use arrow_select::filter::FilterBuilder;

use super::ValueIssue;
use crate::sources::TableRef;
use crate::sources::table_ref::quote_ident;

/// How many skipped rows a read describes; the rest are only counted.
pub const MAX_DESCRIBED_ROWS: usize = 100;

/// Which row was skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowId {
    /// The partition the row was read in (0 when the read is one stream).
    pub partition: usize,
    /// The row's position (from 1) in its partition's stream, skipped rows included.
    pub ordinal: u64,
    /// The primary key's columns and values (as text), when the table has a primary key
    /// whose columns the user may read.
    pub key: Vec<(String, String)>,
    /// The row's `ctid` (PostgreSQL tables and materialized views without such a key):
    /// where the row version lies, valid until the row is updated or the table vacuumed.
    pub ctid: Option<String>,
}

/// A row a read skipped: the value that could not be represented, and the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedRow {
    /// `schema.table`.
    pub table: String,
    pub column: String,
    /// The value as the source writes it (cut after 80 characters).
    pub value: String,
    /// What the read would have failed with: `public.t.amount holds NaN, which a decimal
    /// column cannot hold`.
    pub message: String,
    pub row: RowId,
}

impl SkippedRow {
    /// The description of a row of `table` whose `column` held a value with `issue`.
    pub fn new(table: &TableRef, column: &str, issue: ValueIssue, row: RowId) -> SkippedRow {
        let value = match &issue {
            ValueIssue::CannotHold { value, .. } => shown(value),
            ValueIssue::Malformed(_) => String::new(),
        };
        SkippedRow {
            table: table.to_string(),
            column: column.to_string(),
            value,
            message: issue.error(table, column).message,
            row,
        }
    }
}

impl fmt::Display for SkippedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.message)?;
        if self.row.key.is_empty() {
            write!(f, "row {} of partition {}", self.row.ordinal, self.row.partition)?;
            if let Some(ctid) = &self.row.ctid {
                write!(f, ", ctid {ctid}")?;
            }
        } else {
            let key: Vec<String> = self.row.key.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            write!(f, "key {}", key.join(", "))?;
        }
        write!(f, ")")
    }
}

/// A value's text as messages show it: at most 80 characters, then `...`.
pub fn shown(value: &str) -> String {
    let mut shown: String = value.chars().take(80).collect();
    if shown.len() < value.len() {
        shown.push_str("...");
    }
    shown
}

/// What a read selects after the table's columns, in Skip mode only, to say which row it
/// skipped: the primary key's columns, else the ctid where there is one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowIdentity {
    /// The primary key's columns, in key order (empty: no usable key).
    pub key: Vec<String>,
    /// Select the `ctid` (only without a key).
    pub ctid: bool,
}

impl RowIdentity {
    /// The identity of a table with primary key `key` (empty: none); `has_ctid` when the
    /// relation has row versions with a ctid (a table or materialized view).
    pub fn new(key: Vec<String>, has_ctid: bool) -> RowIdentity {
        let ctid = key.is_empty() && has_ctid;
        RowIdentity { key, ctid }
    }

    /// How many fields it adds to each row.
    pub fn fields(&self) -> usize {
        self.key.len() + usize::from(self.ctid)
    }

    /// Its select-list items, each the text of its value.
    pub fn select(&self) -> Vec<String> {
        let key = self.key.iter().map(|k| format!("format('%s', {})", quote_ident(k)));
        key.chain(self.ctid.then(|| "ctid::text".to_string())).collect()
    }

    /// The id of the row at `ordinal` of `partition`, from the texts of its identity fields.
    pub fn row(&self, partition: usize, ordinal: u64, mut texts: impl Iterator<Item = String>) -> RowId {
        let key = self
            .key
            .iter()
            .map(|k| (k.clone(), texts.next().unwrap_or_default()))
            .collect();
        let ctid = if self.ctid { texts.next() } else { None };
        RowId {
            partition,
            ordinal,
            key,
            ctid,
        }
    }
}

/// The batch of `arrays` (`rows` rows) without the rows at the indices `bad` (ascending);
/// `None` when no row is left.
pub fn without_rows(
    schema: &SchemaRef,
    arrays: Vec<ArrayRef>,
    rows: usize,
    bad: &[usize],
) -> Result<Option<RecordBatch>, ArrowError> {
    let kept = rows - bad.len();
    if kept == 0 {
        return Ok(None);
    }
    let arrays = if bad.is_empty() {
        arrays
    } else {
        let mut keep = BooleanBufferBuilder::new(rows);
        keep.append_n(rows, true);
        for &row in bad {
            keep.set_bit(row, false);
        }
        let predicate = FilterBuilder::new(&BooleanArray::new(keep.finish(), None))
            .optimize()
            .build();
        arrays
            .iter()
            .map(|array| predicate.filter(array.as_ref()))
            .collect::<Result<Vec<_>, _>>()?
    };
    let options = RecordBatchOptions::new().with_row_count(Some(kept));
    RecordBatch::try_new_with_options(Arc::clone(schema), arrays, &options).map(Some)
}

/// Text bytes that are not UTF-8 as text: valid runs kept, other bytes as `\xNN`.
pub fn escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    use arrow_array::{Int32Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    #[test]
    fn marked_rows_are_dropped_even_where_a_placeholder_breaks_a_constraint() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("t", DataType::Utf8, true),
        ]));
        let ids: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(3), None]));
        let texts: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("c"), None]));
        let batch = without_rows(&schema, vec![ids.clone(), texts.clone()], 4, &[1, 3])
            .unwrap()
            .unwrap();
        assert_eq!(batch.num_rows(), 2);
        let kept: Vec<_> = batch.column(0).as_primitive::<Int32Type>().iter().collect();
        assert_eq!(kept, [Some(1), Some(3)]);
        assert!(without_rows(&schema, vec![ids.clone(), texts.clone()], 4, &[]).is_err());
        assert!(
            without_rows(&schema, vec![ids, texts], 4, &[0, 1, 2, 3])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn rows_are_named_by_key_or_by_position() {
        let table = TableRef {
            schema: "public".into(),
            table: "t".into(),
        };
        let issue = ValueIssue::cannot_hold("NaN", "a decimal column cannot hold");
        let keyed = RowIdentity::new(vec!["id".into(), "at".into()], true);
        assert_eq!(keyed.select(), ["format('%s', \"id\")", "format('%s', \"at\")"]);
        let row = keyed.row(0, 7, ["17".to_string(), "2024-05-01".to_string()].into_iter());
        let skipped = SkippedRow::new(&table, "amount", issue.clone(), row);
        assert_eq!(
            skipped.to_string(),
            "public.t.amount holds NaN, which a decimal column cannot hold (key id = 17, at = 2024-05-01)"
        );
        let positional = RowIdentity::new(Vec::new(), true);
        assert_eq!(
            (positional.fields(), positional.select()),
            (1, vec!["ctid::text".to_string()])
        );
        let row = positional.row(2, 9, ["(0,9)".to_string()].into_iter());
        let skipped = SkippedRow::new(&table, "amount", issue, row);
        assert_eq!(skipped.value, "NaN");
        assert!(skipped.to_string().ends_with("(row 9 of partition 2, ctid (0,9))"));
        assert_eq!(escaped(b"caf\xe9!"), "caf\\xe9!");
    }
}
