//! Schema changes between a dataset's table and the data a write brings: what differs
//! ([`differences`]), what a write does about it ([`Evolution`]), and the schema the table
//! has after the write.
//!
//! A wider type is not recorded with Delta's `typeWidening` feature, which delta-rs (and
//! so the Python `deltalake` reader) cannot read: the files holding the column are
//! rewritten with the wider type in the same commit that changes the schema (`rewrite.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::kernel::MetadataValue;

use super::LakeError;
use super::schema::{self, delta_name};
use crate::schema_changes::{SOURCE_POSITION, SchemaChangeKind};

/// The column metadata that marks a column the source no longer gives: the table keeps
/// it, and later writes are not told about it again.
const DROPPED_AT_SOURCE: &str = "inlet.droppedAtSource";

/// The column metadata that marks a column of the key rows are merged by, with its
/// position in the key (from 0).
const KEY_POSITION: &str = "inlet.keyPosition";

/// `field` with Inlet's marks from its Delta column's `metadata`.
pub(super) fn with_marks(field: &Field, metadata: &HashMap<String, MetadataValue>) -> Field {
    let marks: HashMap<String, String> = [DROPPED_AT_SOURCE, KEY_POSITION, SOURCE_POSITION]
        .into_iter()
        .filter_map(|mark| match metadata.get(mark)? {
            MetadataValue::String(value) => Some((mark.to_string(), value.clone())),
            MetadataValue::Number(value) => Some((mark.to_string(), value.to_string())),
            _ => None,
        })
        .collect();
    field.clone().with_metadata(marks)
}

/// The key a merge into a table of `schema` went by, as its columns' marks say; empty
/// when no merge marked one.
pub fn merge_key(schema: &Schema) -> Vec<String> {
    let mut marked: Vec<(usize, String)> = schema
        .fields()
        .iter()
        .filter_map(|f| Some((f.metadata().get(KEY_POSITION)?.parse().ok()?, f.name().clone())))
        .collect();
    marked.sort();
    marked.into_iter().map(|(_, name)| name).collect()
}

/// `fields` with `key`'s columns marked as the merge key (and no other column marked).
pub(super) fn mark_key(fields: Vec<Field>, key: &[String]) -> Vec<Field> {
    fields
        .into_iter()
        .map(|field| {
            let mut metadata = field.metadata().clone();
            metadata.remove(KEY_POSITION);
            if let Some(position) = key.iter().position(|k| k == field.name()) {
                metadata.insert(KEY_POSITION.to_string(), position.to_string());
            }
            field.with_metadata(metadata)
        })
        .collect()
}

/// The difference of a merge by `key` into a table whose rows were merged by another key.
pub fn key_difference(table: &Schema, key: &[String]) -> Option<Difference> {
    let before = merge_key(table);
    (!before.is_empty() && before != key).then(|| Difference {
        column: key.join(", "),
        kind: SchemaChangeKind::KeyChanged,
        from: Some(format!("({})", before.join(", "))),
        to: Some(format!("({})", key.join(", "))),
    })
}

fn dropped_mark() -> HashMap<String, String> {
    HashMap::from([(DROPPED_AT_SOURCE.to_string(), "true".to_string())])
}

fn dropped_at_source(field: &Field) -> bool {
    field.metadata().contains_key(DROPPED_AT_SOURCE)
}

/// The columns of `schema` the source no longer gives: a write's rows hold NULL in them.
pub(super) fn kept_columns(schema: &Schema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .filter(|f| dropped_at_source(f))
        .map(|f| f.name().clone())
        .collect()
}

/// One column that differs, before any policy decides on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub column: String,
    pub kind: SchemaChangeKind,
    /// The table's type (Delta's name), if the table has the column.
    pub from: Option<String>,
    /// The data's type (Delta's name), if the data has the column.
    pub to: Option<String>,
}

/// How the data's columns (`data`, as a source reads them) differ from the table's, in the
/// table's column order, then the new columns in the data's order.
pub fn differences(table: &Schema, data: &Schema) -> Result<Vec<Difference>, LakeError> {
    let data = schema::canonical(data)?;
    let mut found = Vec::new();
    for column in table.fields() {
        let difference = |kind, to: Option<&Field>| Difference {
            column: column.name().clone(),
            kind,
            from: Some(delta_name(column)),
            to: to.map(delta_name),
        };
        match data.field_with_name(column.name()) {
            Err(_) if dropped_at_source(column) => {}
            Err(_) => found.push(difference(SchemaChangeKind::Dropped, None)),
            Ok(given) if given.data_type() != column.data_type() => {
                let kind = match widens(column.data_type(), given.data_type()) {
                    true => SchemaChangeKind::Widened,
                    false => SchemaChangeKind::TypeChanged,
                };
                found.push(difference(kind, Some(given)));
            }
            Ok(given) if given.is_nullable() && !column.is_nullable() => {
                found.push(difference(SchemaChangeKind::NullAllowed, Some(given)));
            }
            // Back at the source after it was dropped: it is written again.
            Ok(given) if dropped_at_source(column) => found.push(difference(SchemaChangeKind::Added, Some(given))),
            Ok(_) => {}
        }
    }
    for column in data.fields() {
        if table.field_with_name(column.name()).is_err() {
            found.push(Difference {
                column: column.name().clone(),
                kind: SchemaChangeKind::Added,
                from: None,
                to: Some(delta_name(column)),
            });
        }
    }
    Ok(renames(table, &data, found))
}

/// A column's number in its source table, when the source gave one.
fn position(field: &Field) -> Option<&String> {
    field.metadata().get(SOURCE_POSITION)
}

/// `found` with each dropped column and added column of the same source position (a
/// PostgreSQL `attnum`) made one rename.
fn renames(table: &Schema, data: &Schema, found: Vec<Difference>) -> Vec<Difference> {
    let position_in =
        |schema: &Schema, name: &str| schema.field_with_name(name).ok().and_then(|f| position(f).cloned());
    let dropped_at = |at: &String| {
        found
            .iter()
            .find(|d| d.kind == SchemaChangeKind::Dropped && position_in(table, &d.column).as_ref() == Some(at))
    };
    let mut renamed: Vec<(String, String)> = Vec::new();
    for added in found.iter().filter(|d| d.kind == SchemaChangeKind::Added) {
        if let Some(at) = position_in(data, &added.column)
            && let Some(old) = dropped_at(&at)
        {
            renamed.push((old.column.clone(), added.column.clone()));
        }
    }
    found
        .into_iter()
        .filter_map(
            |d| match renamed.iter().find(|(old, new)| *old == d.column || *new == d.column) {
                None => Some(d),
                Some((old, new)) if *new == d.column => Some(Difference {
                    column: new.clone(),
                    kind: SchemaChangeKind::Renamed,
                    from: Some(old.clone()),
                    to: Some(new.clone()),
                }),
                Some(_) => None,
            },
        )
        .collect()
}

/// Whether every value of type `from` is a value of type `to`, exactly (canonical types).
/// `timestamp` → `timestamptz` is not among them: the instant a wall time meant depends on
/// the zone the source converted it in, which the dataset does not know.
pub fn widens(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let integer_digits = |t: &DataType| match t {
        Int8 => Some(3),
        Int16 => Some(5),
        Int32 => Some(10),
        Int64 => Some(19),
        _ => None,
    };
    match (from, to) {
        (Int8, Int16 | Int32 | Int64) | (Int16, Int32 | Int64) | (Int32, Int64) => true,
        (Float32, Float64) => true,
        // Integers whose every value has an exact binary floating-point form.
        (Int8 | Int16, Float32) | (Int8 | Int16 | Int32, Float64) => true,
        (Decimal128(p1, s1), Decimal128(p2, s2)) => s2 >= s1 && (*p2 as i16 - *s2 as i16) >= (*p1 as i16 - *s1 as i16),
        (Int8 | Int16 | Int32 | Int64, Decimal128(p, s)) => {
            integer_digits(from).is_some_and(|digits| *p as i16 - *s as i16 >= digits)
        }
        (Date32, Timestamp(TimeUnit::Microsecond, None)) => true,
        _ => false,
    }
}

/// What one write does to the table's schema, as the flow's policy decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evolution {
    /// New columns the table gains (nullable; earlier rows read NULL in them).
    pub add: Vec<String>,
    /// Columns whose type widens to the data's; their files are rewritten.
    pub widen: Vec<String>,
    /// Columns the data lacks: the table keeps them, and the write's rows hold NULL.
    pub fill: Vec<String>,
    /// Columns that may hold NULL from now on.
    pub relax: Vec<String>,
    /// Data columns left out of the table.
    pub ignore: Vec<String>,
    /// The table takes the data's schema whole, whatever it was: only for a write that
    /// replaces every row (a resnapshot the user chose).
    pub replace: bool,
}

impl Evolution {
    /// Whether the write changes nothing of the table's schema nor leaves columns out.
    pub fn is_empty(&self) -> bool {
        self == &Evolution::default()
    }

    /// The table's schema after the write: `table`'s columns (widened, relaxed), then the
    /// added ones. `data` is canonical.
    pub(super) fn target(&self, table: &Schema, data: &Schema) -> Result<SchemaRef, LakeError> {
        if self.replace {
            return Ok(Arc::new(data.clone()));
        }
        let listed = |list: &[String], name: &str| list.iter().any(|n| n == name);
        let mut fields: Vec<Field> = Vec::with_capacity(table.fields().len() + self.add.len());
        for column in table.fields() {
            let mut field = column.as_ref().clone();
            if let Ok(given) = data.field_with_name(column.name()) {
                let mut metadata = field.metadata().clone();
                metadata.remove(DROPPED_AT_SOURCE);
                // A column that predates positions learns its own, so a later rename shows.
                if let Some(at) = position(given) {
                    metadata.insert(SOURCE_POSITION.to_string(), at.clone());
                }
                field = field.with_metadata(metadata);
            }
            if listed(&self.fill, column.name()) {
                let mut metadata = field.metadata().clone();
                metadata.extend(dropped_mark());
                field = field.with_metadata(metadata);
            }
            if listed(&self.widen, column.name()) {
                let wider = data.field_with_name(column.name())?;
                field = field.with_data_type(wider.data_type().clone());
            }
            if listed(&self.relax, column.name()) || listed(&self.fill, column.name()) {
                field = field.with_nullable(true);
            }
            fields.push(field);
        }
        for name in &self.add {
            if table.field_with_name(name).is_err() {
                fields.push(data.field_with_name(name)?.clone().with_nullable(true));
            }
        }
        Ok(Arc::new(Schema::new(fields)))
    }
}

#[cfg(test)]
#[path = "evolve_tests.rs"]
mod tests;
