//! Tuples of `pgoutput` changes decoded into [`ChangeChunk`]s: each value from its binary
//! form by the same column decoders a snapshot's binary COPY uses, so a value reads the
//! same whether it came with the snapshot or with a change.
//!
//! The columns are the relation's, as its latest Relation message lists them (so a column
//! added at the source appears from the change that first has it), narrowed to the
//! captured ones; each must still have the type the table's catalog gives it.

use std::collections::HashMap;
use std::mem;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};

use super::pgoutput::{OldTuple, Relation, RelationColumn, Value};
use crate::sources::changes::{ChangeChunk, ChangeKind};
use crate::sources::postgres::copy_binary::BATCH_BYTES;
use crate::sources::postgres::decode::{Column, Wire};
use crate::sources::read::arrow_field;
use crate::sources::schema::ColumnInfo;
use crate::sources::types::postgres_type;
use crate::sources::{SourceError, SourceErrorKind, TableRef};

/// A column of the table as its catalog describes it now, with its type's OID.
#[derive(Clone, Debug)]
pub struct CatalogColumn {
    pub info: ColumnInfo,
    pub type_oid: u32,
}

/// How the current relation's tuples become rows: which relation column goes where.
struct Layout {
    relation: u32,
    /// For each relation column, its index among the captured columns.
    positions: Vec<Option<usize>>,
    /// Relation column indices of the key's columns.
    key: Vec<usize>,
    schema: SchemaRef,
    wires: Vec<Wire>,
}

/// Builds chunks from the changes of one relation.
pub struct ChunkBuilder {
    table: TableRef,
    catalog: HashMap<String, CatalogColumn>,
    /// The captured columns' names (`None`: all).
    wanted: Option<Vec<String>>,
    key: Vec<String>,
    batch_rows: usize,
    layout: Option<Layout>,
    columns: Vec<Column>,
    kinds: Vec<ChangeKind>,
    unchanged: Vec<(u32, u32)>,
    bytes: usize,
    ready: Vec<ChangeChunk>,
}

impl ChunkBuilder {
    /// A builder for `table`, whose catalog is `catalog`, capturing `wanted` columns (all
    /// when `None`) with key `key`.
    pub fn new(
        table: TableRef,
        catalog: Vec<CatalogColumn>,
        wanted: Option<Vec<String>>,
        key: Vec<String>,
        batch_rows: usize,
    ) -> ChunkBuilder {
        ChunkBuilder {
            table,
            catalog: catalog.into_iter().map(|c| (c.info.name.clone(), c)).collect(),
            wanted,
            key,
            batch_rows: batch_rows.max(1),
            layout: None,
            columns: Vec::new(),
            kinds: Vec::new(),
            unchanged: Vec::new(),
            bytes: 0,
            ready: Vec::new(),
        }
    }

    /// Takes `relation` as the description of the tuples that follow.
    pub fn relation(&mut self, relation: &Relation) -> Result<(), SourceError> {
        self.flush()?;
        let mut positions = Vec::with_capacity(relation.columns.len());
        let (mut fields, mut wires) = (Vec::new(), Vec::new());
        for column in &relation.columns {
            let wanted = self.wanted.as_ref().is_none_or(|names| names.contains(&column.name));
            if !wanted {
                positions.push(None);
                continue;
            }
            let known = self.catalog.get(&column.name).filter(|c| c.type_oid == column.type_oid);
            // Changes written before the column changed (a type, a name, a drop) describe it
            // as it was then: a built-in type is read as that type, the merge widens it.
            let earlier = match known {
                Some(_) => None,
                None => Some(earlier_form(column).ok_or_else(|| self.changed_shape(&column.name))?),
            };
            let info = known.map_or_else(|| earlier.as_ref().expect("set when unknown"), |k| &k.info);
            let wire = Wire::native_for(info).ok_or_else(|| unsupported(info))?;
            positions.push(Some(fields.len()));
            fields.push(arrow_field(info)?.with_nullable(true));
            wires.push(wire);
        }
        let key = self
            .key
            .iter()
            .map(|name| {
                let found = relation.columns.iter().position(|c| &c.name == name);
                found.ok_or_else(|| self.changed_shape(name))
            })
            .collect::<Result<_, _>>()?;
        let schema: SchemaRef = Arc::new(Schema::new(fields.clone()));
        self.columns = fresh_columns(&wires, &fields, self.batch_rows);
        self.layout = Some(Layout {
            relation: relation.id,
            positions,
            key,
            schema,
            wires,
        });
        Ok(())
    }

    /// The relation the current layout describes.
    pub fn relation_id(&self) -> Option<u32> {
        self.layout.as_ref().map(|l| l.relation)
    }

    /// An insert's new tuple.
    pub fn insert(&mut self, new: &[Value<'_>]) -> Result<(), SourceError> {
        self.row(new, None, ChangeKind::Insert)
    }

    /// An update: a key change when the old key differs from the new one.
    pub fn update(&mut self, old: Option<&(OldTuple, Vec<Value<'_>>)>, new: &[Value<'_>]) -> Result<(), SourceError> {
        let layout = self.layout()?;
        let Some((kind, old)) = old else {
            return self.row(new, None, ChangeKind::Update);
        };
        let same_key = layout.key.iter().all(|&i| old.get(i) == new.get(i));
        let full = (*kind == OldTuple::Full).then_some(old.as_slice());
        if same_key {
            return self.row(new, full, ChangeKind::Update);
        }
        self.row(old, None, ChangeKind::Delete)?;
        self.row(new, full, ChangeKind::KeyChange)
    }

    /// A delete's old tuple (its key, or the whole row).
    pub fn delete(&mut self, old: &[Value<'_>]) -> Result<(), SourceError> {
        self.row(old, None, ChangeKind::Delete)
    }

    /// Ends the current chunk (at a truncate, a relation change or the end).
    pub fn flush(&mut self) -> Result<(), SourceError> {
        let Some(layout) = &self.layout else { return Ok(()) };
        if self.kinds.is_empty() {
            return Ok(());
        }
        let rows = self.kinds.len();
        let arrays = self
            .columns
            .iter_mut()
            .zip(&layout.wires)
            .zip(layout.schema.fields())
            .map(|((column, wire), field)| column.take(wire, field.data_type(), rows))
            .collect();
        let batch = RecordBatch::try_new(layout.schema.clone(), arrays)
            .map_err(|e| SourceError::new(SourceErrorKind::QueryFailed, format!("building a change batch: {e}")))?;
        self.ready.push(ChangeChunk {
            batch,
            kinds: mem::take(&mut self.kinds),
            unchanged: mem::take(&mut self.unchanged),
        });
        self.bytes = 0;
        Ok(())
    }

    /// The chunks completed so far.
    pub fn take_ready(&mut self) -> Vec<ChangeChunk> {
        mem::take(&mut self.ready)
    }

    fn layout(&self) -> Result<&Layout, SourceError> {
        self.layout.as_ref().ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::QueryFailed,
                "the change stream sent a change before describing its table",
            )
        })
    }

    /// Appends one row of `kind` from `tuple`; an unchanged value is taken from `old`
    /// (a whole old row) when it has it, else noted as unchanged.
    fn row(&mut self, tuple: &[Value<'_>], old: Option<&[Value<'_>]>, kind: ChangeKind) -> Result<(), SourceError> {
        self.layout()?;
        let layout = self.layout.as_ref().expect("checked just above");
        if tuple.len() != layout.positions.len() {
            return Err(SourceError::new(
                SourceErrorKind::QueryFailed,
                format!(
                    "a change of {} has {} values for {} columns",
                    self.table,
                    tuple.len(),
                    layout.positions.len()
                ),
            ));
        }
        let row = self.kinds.len() as u32;
        for (i, value) in tuple.iter().enumerate() {
            let Some(at) = layout.positions[i] else { continue };
            let value = match (value, old.and_then(|o| o.get(i))) {
                (Value::Unchanged, Some(kept @ Value::Binary(_))) => *kept,
                _ => *value,
            };
            let column = &mut self.columns[at];
            match value {
                Value::Null => column.append_null(),
                Value::Unchanged => {
                    column.append_null();
                    self.unchanged.push((row, at as u32));
                }
                Value::Binary(bytes) => {
                    self.bytes += bytes.len();
                    if let Err(issue) = column.append(bytes) {
                        let name = layout.schema.field(at).name();
                        return Err(issue.error(&self.table, name));
                    }
                }
                Value::Text(_) => {
                    return Err(SourceError::new(
                        SourceErrorKind::Unsupported,
                        format!(
                            "column `{}` of {} arrived as text; change data capture reads binary values only",
                            layout.schema.field(at).name(),
                            self.table
                        ),
                    ));
                }
            }
        }
        self.kinds.push(kind);
        if self.kinds.len() >= self.batch_rows || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn changed_shape(&self, column: &str) -> SourceError {
        SourceError::new(
            SourceErrorKind::Unsupported,
            format!(
                "column `{column}` of {} changed at the source (dropped, renamed or of another type) before \
                 changes that still have its old form were read; such changes cannot be merged: re-snapshot the flow \
                 (POST /flows/{{id}}/action?op=resnapshot)",
                self.table
            ),
        )
    }
}

/// PostgreSQL's built-in base types by their fixed oids (`pg_type.oid`, the same on every
/// server): the types a relation message may name for a column's earlier form.
const BUILT_IN_TYPES: [(u32, &str); 17] = [
    (16, "bool"),
    (17, "bytea"),
    (20, "int8"),
    (21, "int2"),
    (23, "int4"),
    (25, "text"),
    (114, "json"),
    (700, "float4"),
    (701, "float8"),
    (1042, "bpchar"),
    (1043, "varchar"),
    (1082, "date"),
    (1114, "timestamp"),
    (1184, "timestamptz"),
    (1700, "numeric"),
    (2950, "uuid"),
    (3802, "jsonb"),
];

/// A relation column the table no longer has in this form, described from its message
/// alone; `None` for a type that is not built in.
fn earlier_form(column: &RelationColumn) -> Option<ColumnInfo> {
    let (_, typname) = BUILT_IN_TYPES.iter().find(|(oid, _)| *oid == column.type_oid)?;
    Some(ColumnInfo {
        name: column.name.clone(),
        inlet_type: postgres_type(typname, column.type_modifier),
        original_type: typname.to_string(),
        source_type: typname.to_string(),
        nullable: true,
        position: None,
    })
}

fn fresh_columns(wires: &[Wire], fields: &[Field], rows: usize) -> Vec<Column> {
    wires
        .iter()
        .zip(fields)
        .map(|(wire, field)| Column::new(wire, field.data_type(), rows, rows * 16))
        .collect()
}

/// The refusal for a column whose type has no native binary decoder.
pub fn unsupported(column: &ColumnInfo) -> SourceError {
    SourceError::new(
        SourceErrorKind::Unsupported,
        format!(
            "column `{}` ({}) cannot be captured: change data capture reads values in their binary form, and \
             Inlet has no exact binary reader for this type yet; leave the column out with params.columns",
            column.name, column.original_type
        ),
    )
}

#[cfg(test)]
#[path = "tuples_tests.rs"]
mod tests;
