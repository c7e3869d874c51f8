//! A run's changes made ready for one merge attempt on the table as it is: fitted to the
//! table's schema (widened by columns new at the source), their keys encoded, folded.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, new_null_array};
use arrow_schema::{Field, Schema, SchemaRef};
use deltalake::arrow::compute::{CastOptions, cast_with_options};
use deltalake::arrow::row::{RowConverter, SortField};
use deltalake::arrow::util::display::FormatOptions;

use super::fold::{self, Folded, Key, Step};
use super::{ChangeSet, ChangeStep};
use crate::lake::{LakeError, evolve, schema, widens};
use crate::sources::changes::ChangeChunk;

/// The changes made ready for one attempt at the table as it is.
pub(super) struct Prepared {
    /// The table's schema after the merge (the table's, plus new columns).
    pub(super) target: SchemaRef,
    /// `target` with every column nullable: what change rows and table rows are read as.
    pub(super) loose: SchemaRef,
    /// A new column arrived, or the evolution changed the schema: the commit carries the
    /// table's new schema.
    pub(super) widened: bool,
    /// A column's type widened: every file is rewritten with the new type.
    pub(super) rewrite_all: bool,
    pub(super) chunks: Vec<RecordBatch>,
    pub(super) folded: Folded,
    pub(super) codec: KeyCodec,
    /// The key's values, when the key is one integer column: prunes files by statistics.
    pub(super) integer_keys: Option<Vec<i64>>,
}

/// Encodes the key columns of rows as bytes that compare equal exactly when keys do.
pub(super) struct KeyCodec {
    pub(super) converter: RowConverter,
    pub(super) columns: Vec<usize>,
}

impl KeyCodec {
    fn new(schema: &Schema, key: &[String], dataset: &str) -> Result<KeyCodec, LakeError> {
        let columns = key
            .iter()
            .map(|name| {
                schema.index_of(name).map_err(|_| LakeError::SchemaMismatch {
                    dataset: dataset.to_string(),
                    differences: vec![format!("the key column `{name}` is not in the data")],
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let fields = columns
            .iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect();
        Ok(KeyCodec {
            converter: RowConverter::new(fields)?,
            columns,
        })
    }

    /// The keys of `batch`'s rows (`columns` index `batch`'s own columns).
    pub(super) fn keys(&self, batch: &RecordBatch, columns: &[usize]) -> Result<Vec<Key>, LakeError> {
        let arrays: Vec<ArrayRef> = columns.iter().map(|&i| batch.column(i).clone()).collect();
        let rows = self.converter.convert_columns(&arrays)?;
        Ok(rows.iter().map(|row| row.as_ref().into()).collect())
    }
}

/// Fits the changes to the table's schema (widened by new columns) and folds them.
pub(super) fn prepare(dataset: &str, table: Option<SchemaRef>, changes: &ChangeSet) -> Result<Prepared, LakeError> {
    let chunks: Vec<&ChangeChunk> = changes
        .steps
        .iter()
        .filter_map(|step| match step {
            ChangeStep::Rows(chunk) => Some(chunk),
            ChangeStep::Truncate => None,
        })
        .collect();
    let evolution = &changes.evolution;
    // The columns the source has now: the given schema, else the last changes'.
    let latest = changes
        .schema
        .clone()
        .or_else(|| chunks.last().map(|c| c.batch.schema()));
    let mut fields: Vec<Field> = match (&table, &latest) {
        (Some(schema), Some(data)) if !evolution.is_empty() => evolution
            .target(schema, &*schema::canonical(data)?)?
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect(),
        (Some(schema), _) => schema.fields().iter().map(|f| f.as_ref().clone()).collect(),
        (None, Some(schema)) => schema::canonical(schema)?
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect(),
        (None, None) => Vec::new(),
    };
    let mut widened = table
        .as_ref()
        .is_some_and(|t| t.fields().iter().map(|f| f.as_ref()).ne(fields.iter()));
    for chunk in &chunks {
        let data = schema::canonical(&chunk.batch.schema())?;
        for field in data.fields() {
            if evolution.ignore.contains(field.name()) {
                continue;
            }
            match fields.iter().find(|f| f.name() == field.name()) {
                // Changes read before a column widened fit the wider type exactly.
                Some(known)
                    if known.data_type() != field.data_type() && !widens(field.data_type(), known.data_type()) =>
                {
                    return Err(LakeError::SchemaMismatch {
                        dataset: dataset.to_string(),
                        differences: vec![format!(
                            "column `{}` changed its type at the source ({} in the table, {} now)",
                            field.name(),
                            known.data_type(),
                            field.data_type()
                        )],
                    });
                }
                Some(_) => {}
                None => {
                    widened |= table.is_some();
                    fields.push(field.as_ref().clone().with_nullable(true));
                }
            }
        }
    }
    // The key rows are merged by is marked on its columns, so a later key can be told apart.
    let fields = evolve::mark_key(fields, &changes.key);
    widened |= table
        .as_ref()
        .is_some_and(|t| t.fields().iter().map(|f| f.as_ref()).ne(fields.iter()));
    let target: SchemaRef = Arc::new(Schema::new(fields.clone()));
    let loose: SchemaRef = Arc::new(Schema::new(
        fields.into_iter().map(|f| f.with_nullable(true)).collect::<Vec<_>>(),
    ));
    let codec = KeyCodec::new(&loose, &changes.key, dataset)?;
    let fitted = chunks
        .iter()
        .map(|chunk| fit(&chunk.batch, &loose))
        .collect::<Result<Vec<_>, _>>()?;
    let mut keys = Vec::with_capacity(fitted.len());
    for batch in &fitted {
        keys.push(codec.keys(batch, &codec.columns)?);
    }
    let integer_keys = integer_keys(&fitted, &codec.columns);
    let mut keys = keys.into_iter();
    let steps = changes.steps.iter().map(|step| match step {
        ChangeStep::Rows(chunk) => Step::Rows {
            kinds: &chunk.kinds,
            unchanged: &chunk.unchanged,
            keys: keys.next().expect("one key list per chunk"),
        },
        ChangeStep::Truncate => Step::Truncate,
    });
    let folded = fold::fold(steps.collect::<Vec<_>>());
    Ok(Prepared {
        target,
        loose,
        widened,
        rewrite_all: table.is_some() && !evolution.widen.is_empty(),
        chunks: fitted,
        folded,
        codec,
        integer_keys,
    })
}

/// Casts that fail rather than change a value.
const EXACT: CastOptions = CastOptions {
    safe: false,
    format_options: FormatOptions::new(),
};

/// `batch` with `schema`'s columns, by name: cast to the canonical types, absent ones null.
pub(in crate::lake) fn fit(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, LakeError> {
    let canonical = schema::canonical(&batch.schema())?;
    let batch = schema::conform(batch, &canonical)?;
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) if column.data_type() == field.data_type() => Ok(column.clone()),
            // A widened column (`Evolution::widen`): the cast is exact, or it fails.
            Some(column) => Ok(cast_with_options(column, field.data_type(), &EXACT)?),
            None => Ok(new_null_array(field.data_type(), batch.num_rows())),
        })
        .collect::<Result<Vec<_>, LakeError>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| LakeError::BadBatch(e.to_string()))
}

/// The sorted values of a key that is one integer column; `None` for other keys.
fn integer_keys(chunks: &[RecordBatch], key: &[usize]) -> Option<Vec<i64>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int16Type, Int32Type, Int64Type};
    let [column] = key else { return None };
    let mut values = Vec::new();
    for chunk in chunks {
        let array = chunk.column(*column);
        let found: Vec<i64> = match array.data_type() {
            arrow_schema::DataType::Int16 => array
                .as_primitive::<Int16Type>()
                .iter()
                .flatten()
                .map(i64::from)
                .collect(),
            arrow_schema::DataType::Int32 => array
                .as_primitive::<Int32Type>()
                .iter()
                .flatten()
                .map(i64::from)
                .collect(),
            arrow_schema::DataType::Int64 => array.as_primitive::<Int64Type>().iter().flatten().collect(),
            _ => return None,
        };
        values.extend(found);
    }
    values.sort_unstable();
    values.dedup();
    Some(values)
}
