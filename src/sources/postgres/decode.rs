//! One column of a binary COPY: which wire format its values come in ([`Wire`], from the
//! column's type) and the Arrow builder they are decoded straight into ([`Column`]).
//!
//! Values are decoded in place from the received bytes: big-endian integers and floats
//! read directly, text validated as UTF-8 and copied into the string builder's buffer,
//! so no value is allocated on its own. Types without a native decoder here are selected
//! as their output function's text (PostgreSQL's text form, as previews show it) and read
//! as text; arrays of them as an array literal, split into a list of texts here.

use std::mem;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder,
    Int64Builder, NullBufferBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, ListArray};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, FieldRef};

use super::numeric::{self, DecimalShape};
use super::scalar::{date, fixed, timestamp, utf8, uuid};
use crate::sources::read::ValueIssue;
use crate::sources::schema::ColumnInfo;
use crate::sources::table_ref::quote_ident;
use crate::sources::types::InletType;
use crate::sources::values::array::flat_elements;
use crate::sources::{SourceError, SourceErrorKind};

/// The binary format a column's values arrive in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wire {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Bool,
    /// UTF-8 text: text, varchar, bpchar, name, json, enum labels, other types' text.
    Text,
    Jsonb,
    Uuid,
    Bytea,
    Date,
    Timestamp,
    /// A one-dimensional array of the element format.
    Array(Box<Wire>),
    /// An array literal in text (`{a,NULL,"b c"}`): a list of texts.
    TextArray,
}

impl Wire {
    /// The wire format of `column` and its select-list expression: the quoted name, or
    /// where there is no native decoder, the value's text from its type's output function
    /// (`format('%s', ...)`: a `::text` cast would take the cast function some types have,
    /// which writes `inet` and `cidr` with their netmask, and `"char"` raw).
    pub fn plan(column: &ColumnInfo) -> Result<(Wire, String), SourceError> {
        let name = quote_ident(&column.name);
        if let Some(wire) = native(&column.inlet_type, &column.source_type) {
            return Ok((wire, name));
        }
        let text = format!("CASE WHEN {name} IS NULL THEN NULL ELSE format('%s', {name}) END");
        match &column.inlet_type {
            InletType::String => Ok((Wire::Text, text)),
            InletType::Array(element) if **element == InletType::String => Ok((Wire::TextArray, text)),
            _ => Err(SourceError::new(
                SourceErrorKind::Unsupported,
                format!(
                    "column `{}` ({}) has no exact reader: arrays of arrays of types read as text are not supported",
                    column.name, column.original_type
                ),
            )),
        }
    }
}

impl Wire {
    /// The wire format `column`'s values have in their type's binary (send) form, when
    /// there is a native decoder for it; `None` for types read as text.
    pub fn native_for(column: &ColumnInfo) -> Option<Wire> {
        native(&column.inlet_type, &column.source_type)
    }
}

fn native(inlet: &InletType, source: &str) -> Option<Wire> {
    use InletType as I;
    Some(match (inlet, source) {
        (I::Array(element), _) => Wire::Array(Box::new(native(element, source.strip_prefix('_')?)?)),
        (I::Integer, "int2") => Wire::Int2,
        (I::Integer, "int4") => Wire::Int4,
        (I::Long, "int8") => Wire::Int8,
        (I::Double, "float4") => Wire::Float4,
        (I::Double, "float8") => Wire::Float8,
        (I::Decimal { .. }, "numeric") => Wire::Numeric,
        (I::Boolean, "bool") => Wire::Bool,
        (I::String, "text" | "varchar" | "bpchar" | "name" | "json" | "enum") => Wire::Text,
        (I::String, "jsonb") => Wire::Jsonb,
        (I::String, "uuid") => Wire::Uuid,
        (I::Binary, "bytea") => Wire::Bytea,
        (I::Date, "date") => Wire::Date,
        (I::Timestamp { with_zone: false }, "timestamp") | (I::Timestamp { with_zone: true }, "timestamptz") => {
            Wire::Timestamp
        }
        _ => return None,
    })
}

/// A column's values of the current batch, in their Arrow builder.
pub enum Column {
    Int2(Int32Builder),
    Int4(Int32Builder),
    Int8(Int64Builder),
    Float4(Float64Builder),
    Float8(Float64Builder),
    Numeric(Decimal128Builder, DecimalShape),
    Bool(BooleanBuilder),
    Text(StringBuilder),
    Jsonb(StringBuilder),
    Uuid(StringBuilder),
    Bytea(BinaryBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    List(Box<ListColumn>),
    TextList(Box<ListColumn>),
}

/// A list column: offsets and validity here, the elements in their own column.
pub struct ListColumn {
    field: FieldRef,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
    element: Column,
}

impl Column {
    /// An empty column for `rows` values of `wire` into `data_type` (which [`Wire::plan`]
    /// and `arrow_field` agree on), with room for `bytes` of variable-length data.
    pub fn new(wire: &Wire, data_type: &DataType, rows: usize, bytes: usize) -> Column {
        let typed = |dt: &DataType| dt.clone();
        match (wire, data_type) {
            (Wire::Int2, _) => Column::Int2(Int32Builder::with_capacity(rows)),
            (Wire::Int4, _) => Column::Int4(Int32Builder::with_capacity(rows)),
            (Wire::Int8, _) => Column::Int8(Int64Builder::with_capacity(rows)),
            (Wire::Float4, _) => Column::Float4(Float64Builder::with_capacity(rows)),
            (Wire::Float8, _) => Column::Float8(Float64Builder::with_capacity(rows)),
            (Wire::Numeric, DataType::Decimal128(precision, scale)) => Column::Numeric(
                Decimal128Builder::with_capacity(rows).with_data_type(typed(data_type)),
                DecimalShape {
                    precision: *precision,
                    scale: *scale,
                },
            ),
            (Wire::Bool, _) => Column::Bool(BooleanBuilder::with_capacity(rows)),
            (Wire::Text, _) => Column::Text(StringBuilder::with_capacity(rows, bytes)),
            (Wire::Jsonb, _) => Column::Jsonb(StringBuilder::with_capacity(rows, bytes)),
            (Wire::Uuid, _) => Column::Uuid(StringBuilder::with_capacity(rows, rows * 36)),
            (Wire::Bytea, _) => Column::Bytea(BinaryBuilder::with_capacity(rows, bytes)),
            (Wire::Date, _) => Column::Date(Date32Builder::with_capacity(rows)),
            (Wire::Timestamp, _) => {
                Column::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows).with_data_type(typed(data_type)))
            }
            (Wire::Array(element), DataType::List(field)) => {
                Column::List(Box::new(ListColumn::new(field, element, rows, bytes)))
            }
            (Wire::TextArray, DataType::List(field)) => {
                Column::TextList(Box::new(ListColumn::new(field, &Wire::Text, rows, bytes)))
            }
            (wire, data_type) => unreachable!("the plan pairs {wire:?} with {data_type}"),
        }
    }

    /// Appends SQL NULL.
    pub fn append_null(&mut self) {
        match self {
            Column::Int2(b) | Column::Int4(b) => b.append_null(),
            Column::Int8(b) => b.append_null(),
            Column::Float4(b) | Column::Float8(b) => b.append_null(),
            Column::Numeric(b, _) => b.append_null(),
            Column::Bool(b) => b.append_null(),
            Column::Text(b) | Column::Jsonb(b) | Column::Uuid(b) => b.append_null(),
            Column::Bytea(b) => b.append_null(),
            Column::Date(b) => b.append_null(),
            Column::Timestamp(b) => b.append_null(),
            Column::List(list) | Column::TextList(list) => {
                list.offsets.push(*list.offsets.last().unwrap_or(&0));
                list.nulls.append_null();
            }
        }
    }

    /// After [`Column::append`] failed, leaves the column with exactly one entry for the
    /// row (a placeholder, for a row that will be dropped): a list has closed its entry
    /// already, any other column appended nothing.
    pub fn pad_after_issue(&mut self) {
        if !matches!(self, Column::List(_) | Column::TextList(_)) {
            self.append_null();
        }
    }

    /// Entries appended since the last batch was taken.
    fn len(&self) -> usize {
        match self {
            Column::Int2(b) | Column::Int4(b) => b.len(),
            Column::Int8(b) => b.len(),
            Column::Float4(b) | Column::Float8(b) => b.len(),
            Column::Numeric(b, _) => b.len(),
            Column::Bool(b) => b.len(),
            Column::Text(b) | Column::Jsonb(b) | Column::Uuid(b) => b.len(),
            Column::Bytea(b) => b.len(),
            Column::Date(b) => b.len(),
            Column::Timestamp(b) => b.len(),
            Column::List(list) | Column::TextList(list) => list.offsets.len() - 1,
        }
    }

    /// Appends one value from its binary form. On failure a list column still closes
    /// the row's entry (see [`Column::pad_after_issue`]).
    #[inline]
    pub fn append(&mut self, value: &[u8]) -> Result<(), ValueIssue> {
        match self {
            Column::Int2(b) => b.append_value(i32::from(i16::from_be_bytes(fixed(value, "an int2")?))),
            Column::Int4(b) => b.append_value(i32::from_be_bytes(fixed(value, "an int4")?)),
            Column::Int8(b) => b.append_value(i64::from_be_bytes(fixed(value, "an int8")?)),
            // Every float4 is exactly a float8.
            Column::Float4(b) => b.append_value(f64::from(f32::from_be_bytes(fixed(value, "a float4")?))),
            Column::Float8(b) => b.append_value(f64::from_be_bytes(fixed(value, "a float8")?)),
            Column::Numeric(b, shape) => b.append_value(numeric::decode(value, *shape)?),
            Column::Bool(b) => b.append_value(fixed::<1>(value, "a bool")?[0] != 0),
            Column::Text(b) => b.append_value(utf8(value)?),
            Column::Jsonb(b) => match value.split_first() {
                Some((1, json)) => b.append_value(utf8(json)?),
                _ => return Err(ValueIssue::malformed("the server sent jsonb in an unknown format")),
            },
            Column::Uuid(b) => {
                let text = uuid(fixed(value, "a uuid")?);
                b.append_value(std::str::from_utf8(&text).expect("hex digits and dashes are ASCII"));
            }
            Column::Bytea(b) => b.append_value(value),
            Column::Date(b) => b.append_value(date(i32::from_be_bytes(fixed(value, "a date")?))?),
            Column::Timestamp(b) => b.append_value(timestamp(i64::from_be_bytes(fixed(value, "a timestamp")?))?),
            Column::List(list) => list.append(value)?,
            Column::TextList(list) => list.append_literal(value)?,
        }
        Ok(())
    }

    /// Bytes of variable-length data held, to size the next batch's builder.
    fn data_bytes(&self) -> usize {
        match self {
            Column::Text(b) | Column::Jsonb(b) | Column::Uuid(b) => b.values_slice().len(),
            Column::Bytea(b) => b.values_slice().len(),
            Column::List(list) | Column::TextList(list) => list.element.data_bytes(),
            _ => 0,
        }
    }

    /// The batch's values as an array, leaving an empty column for `rows` more behind.
    pub fn take(&mut self, wire: &Wire, data_type: &DataType, rows: usize) -> ArrayRef {
        let next = Column::new(wire, data_type, rows, self.data_bytes());
        match mem::replace(self, next) {
            Column::Int2(mut b) | Column::Int4(mut b) => Arc::new(b.finish()),
            Column::Int8(mut b) => Arc::new(b.finish()),
            Column::Float4(mut b) | Column::Float8(mut b) => Arc::new(b.finish()),
            Column::Numeric(mut b, _) => Arc::new(b.finish()),
            Column::Bool(mut b) => Arc::new(b.finish()),
            Column::Text(mut b) | Column::Jsonb(mut b) | Column::Uuid(mut b) => Arc::new(b.finish()),
            Column::Bytea(mut b) => Arc::new(b.finish()),
            Column::Date(mut b) => Arc::new(b.finish()),
            Column::Timestamp(mut b) => Arc::new(b.finish()),
            Column::List(list) => match wire {
                Wire::Array(element) => (*list).finish(element),
                _ => unreachable!("a list column has an array wire format"),
            },
            Column::TextList(list) => (*list).finish(&Wire::Text),
        }
    }
}

impl ListColumn {
    fn new(field: &FieldRef, element: &Wire, rows: usize, bytes: usize) -> ListColumn {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        ListColumn {
            field: field.clone(),
            offsets,
            nulls: NullBufferBuilder::new(rows),
            element: Column::new(element, field.data_type(), rows, bytes),
        }
    }

    /// A binary array (see [`ListColumn::elements`]), its entry closed even when an
    /// element fails, so that the column stays one entry per row.
    fn append(&mut self, value: &[u8]) -> Result<(), ValueIssue> {
        let read = self.elements(value);
        self.close()?;
        read
    }

    /// A binary array: dimensions, a has-nulls flag, the element type, a (size, lower
    /// bound) pair per dimension, then each element as a length (-1: NULL) and its bytes.
    /// The lower bound is dropped, as Arrow lists start at 0.
    fn elements(&mut self, value: &[u8]) -> Result<(), ValueIssue> {
        let malformed = || ValueIssue::malformed("the server sent an array in an unknown format");
        let int = |at: usize| {
            value
                .get(at..at + 4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let dimensions = int(0).filter(|d| *d >= 0).ok_or_else(malformed)?;
        if dimensions > 1 {
            return Err(multi_dimensional(dimensions as usize));
        }
        if dimensions == 1 {
            let elements = int(12).ok_or_else(malformed)?;
            let mut at = 20;
            for _ in 0..elements {
                let length = int(at).ok_or_else(malformed)?;
                at += 4;
                if length < 0 {
                    self.element.append_null();
                } else {
                    let bytes = value.get(at..at + length as usize).ok_or_else(malformed)?;
                    self.element.append(bytes)?;
                    at += length as usize;
                }
            }
        }
        Ok(())
    }

    /// An array literal's text: each element's text, or NULL; closed as [`ListColumn::append`].
    fn append_literal(&mut self, value: &[u8]) -> Result<(), ValueIssue> {
        let read = self.literal_elements(value);
        self.close()?;
        read
    }

    fn literal_elements(&mut self, value: &[u8]) -> Result<(), ValueIssue> {
        let text = utf8(value)?;
        let elements = flat_elements(text).map_err(|dimensions| match dimensions {
            Some(n) => multi_dimensional(n),
            None => ValueIssue::malformed(format!("the server sent `{text}`, not an array literal")),
        })?;
        for element in &elements {
            match element {
                Some(text) => self.element.append(text.as_bytes())?,
                None => self.element.append_null(),
            }
        }
        Ok(())
    }

    /// Ends the list at the elements appended so far.
    fn close(&mut self) -> Result<(), ValueIssue> {
        let next = i32::try_from(self.element.len())
            .map_err(|_| ValueIssue::malformed("more array elements than a batch holds"))?;
        self.offsets.push(next);
        self.nulls.append_non_null();
        Ok(())
    }

    fn finish(mut self, element_wire: &Wire) -> ArrayRef {
        let values = self.element.take(element_wire, self.field.data_type(), 0);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        let list = ListArray::try_new(self.field, offsets, values, self.nulls.finish());
        Arc::new(list.expect("offsets and values are built together"))
    }
}

fn multi_dimensional(dimensions: usize) -> ValueIssue {
    let reason = "a list column cannot hold (only one-dimensional arrays are read)";
    ValueIssue::cannot_hold(format!("a {dimensions}-dimensional array"), reason)
}
