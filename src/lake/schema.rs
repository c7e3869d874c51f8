//! Which Arrow types a Delta table holds exactly, the canonical Arrow form of a table's
//! schema, and fitting incoming batches to it.
//!
//! delta-rs would quietly cast some types (nanosecond timestamps to microseconds, unsigned
//! integers to signed ones of the same width); Inlet refuses them instead, because a
//! changed value in the lake is worse than a failed run.

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::arrow::array::{ArrayRef, new_null_array};
use deltalake::arrow::compute::{CastOptions, cast_with_options};
use deltalake::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::StructField;
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};

use super::LakeError;

/// The schema as the table holds it: every type checked to be exact, timestamps in
/// microseconds (with zone: UTC), then round-tripped through the Delta type so equal
/// Delta types have equal Arrow types (e.g. `LargeUtf8` becomes `Utf8`).
pub(super) fn canonical(schema: &Schema) -> Result<SchemaRef, LakeError> {
    let fields = schema
        .fields()
        .iter()
        .map(|field| canonical_field(field))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

fn canonical_field(field: &Field) -> Result<Field, LakeError> {
    let prepared = field.clone().with_data_type(prepared(field.data_type(), field.name())?);
    let unsupported = |e: &dyn std::fmt::Display| LakeError::UnsupportedType {
        column: field.name().clone(),
        data_type: field.data_type().to_string(),
        hint: e.to_string(),
    };
    let delta: StructField = (&prepared).try_into_kernel().map_err(|e| unsupported(&e))?;
    let arrow: Field = (&delta).try_into_arrow().map_err(|e| unsupported(&e))?;
    // Inlet's own column metadata (`evolve.rs`) survives; the round trip drops it.
    let marks: HashMap<String, String> = field
        .metadata()
        .iter()
        .filter(|(key, _)| key.starts_with("inlet."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(arrow.with_metadata(marks))
}

/// Rejects the types that would change values; puts timestamps in microseconds.
fn prepared(data_type: &DataType, column: &str) -> Result<DataType, LakeError> {
    let refuse = |hint: &str| {
        Err(LakeError::UnsupportedType {
            column: column.to_string(),
            data_type: data_type.to_string(),
            hint: hint.to_string(),
        })
    };
    match data_type {
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            refuse("Delta has no unsigned integers; widen to the next signed type (UInt64 to Decimal128(20, 0))")
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            refuse("Delta timestamps hold microseconds; truncate explicitly if that is intended")
        }
        DataType::Date64 => refuse("Delta dates hold days; convert to Date32"),
        DataType::Float16 => refuse("Delta has no half-precision float; convert to Float32"),
        DataType::Null => refuse("a column needs a type; give the all-null column its real type"),
        DataType::Timestamp(_, zone) => Ok(DataType::Timestamp(
            TimeUnit::Microsecond,
            // Arrow stores instants as UTC whatever the zone label says.
            zone.as_ref().map(|_| "UTC".into()),
        )),
        DataType::Struct(fields) => Ok(DataType::Struct(
            fields
                .iter()
                .map(|f| prepared_child(f, column))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        )),
        DataType::List(item) => Ok(DataType::List(Arc::new(prepared_child(item, column)?))),
        DataType::LargeList(item) => Ok(DataType::LargeList(Arc::new(prepared_child(item, column)?))),
        DataType::Map(entries, sorted) => Ok(DataType::Map(Arc::new(prepared_child(entries, column)?), *sorted)),
        other => Ok(other.clone()),
    }
}

fn prepared_child(field: &FieldRef, column: &str) -> Result<Field, LakeError> {
    let path = format!("{column}.{}", field.name());
    Ok(field
        .as_ref()
        .clone()
        .with_data_type(prepared(field.data_type(), &path)?))
}

/// Checks that data with the canonical schema `data` can be written to a table with the
/// canonical schema `table`: the same column names and types; a nullable column in the
/// data needs a nullable column in the table. Every differing column is named.
pub(super) fn check_compatible(dataset: &str, table: &Schema, data: &Schema) -> Result<(), LakeError> {
    check_writable(dataset, table, data, &[], &[])
}

/// [`check_compatible`], except that the columns in `may_lack` may be missing from the
/// data (their rows are written NULL) and those in `left_out` are not written.
pub(super) fn check_writable(
    dataset: &str,
    table: &Schema,
    data: &Schema,
    may_lack: &[String],
    left_out: &[String],
) -> Result<(), LakeError> {
    let listed = |list: &[String], name: &str| list.iter().any(|n| n == name);
    let mut differences = Vec::new();
    for column in table.fields() {
        match data.field_with_name(column.name()) {
            Err(_) if listed(may_lack, column.name()) && column.is_nullable() => {}
            Err(_) => differences.push(format!(
                "column `{}` ({}) is missing from the data",
                column.name(),
                delta_name(column)
            )),
            Ok(given) if !field_fits(given, column) => differences.push(format!(
                "column `{}` is {} in the table but {} in the data",
                column.name(),
                described(column),
                described(given)
            )),
            Ok(_) => {}
        }
    }
    for column in data.fields() {
        if table.field_with_name(column.name()).is_err() && !listed(left_out, column.name()) {
            differences.push(format!(
                "column `{}` ({}) is not in the table",
                column.name(),
                delta_name(column)
            ));
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(LakeError::SchemaMismatch {
            dataset: dataset.to_string(),
            differences,
        })
    }
}

fn field_fits(data: &Field, table: &Field) -> bool {
    (table.is_nullable() || !data.is_nullable()) && type_fits(data.data_type(), table.data_type())
}

fn type_fits(data: &DataType, table: &DataType) -> bool {
    match (data, table) {
        (DataType::Struct(d), DataType::Struct(t)) => {
            d.len() == t.len()
                && d.iter()
                    .zip(t.iter())
                    .all(|(d, t)| d.name() == t.name() && field_fits(d, t))
        }
        (DataType::List(d), DataType::List(t)) | (DataType::Map(d, _), DataType::Map(t, _)) => field_fits(d, t),
        _ => data == table,
    }
}

/// The Delta name of a column's type (`decimal(38,10)`, `timestamp_ntz`, ...).
pub(super) fn delta_name(field: &Field) -> String {
    TryIntoKernel::<StructField>::try_into_kernel(field)
        .map(|f| f.data_type().to_string())
        .unwrap_or_else(|_| field.data_type().to_string())
}

fn described(field: &Field) -> String {
    let null = if field.is_nullable() { "nullable" } else { "not null" };
    format!("{} {null}", delta_name(field))
}

/// The batch with the table's schema: columns taken by name, representation-only casts
/// (e.g. `LargeUtf8` to `Utf8`, a zone label to `UTC`) and exact widenings, columns the
/// batch lacks NULL. [`check_writable`] has already approved the batch's schema, so no
/// cast here can change a value.
pub(super) fn conform(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch, LakeError> {
    if batch.schema().fields() == target.fields() {
        return batch
            .clone()
            .with_schema(target.clone())
            .map_err(|e| LakeError::BadBatch(e.to_string()));
    }
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let columns = target
        .fields()
        .iter()
        .map(|field| {
            let Some(column) = batch.column_by_name(field.name()) else {
                // A column the table keeps but the source no longer gives (`check_writable`).
                return match field.is_nullable() {
                    true => Ok(new_null_array(field.data_type(), batch.num_rows())),
                    false => Err(LakeError::BadBatch(format!("a batch has no column `{}`", field.name()))),
                };
            };
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                cast_with_options(column, field.data_type(), &options)
                    .map_err(|e| LakeError::BadBatch(format!("column `{}`: {e}", field.name())))
            }
        })
        .collect::<Result<Vec<ArrayRef>, LakeError>>()?;
    RecordBatch::try_new(target.clone(), columns).map_err(|e| LakeError::BadBatch(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: Vec<Field>) -> Schema {
        Schema::new(fields)
    }

    #[test]
    fn lossy_types_are_refused_by_column() {
        for (data_type, column) in [
            (DataType::UInt32, "n"),
            (DataType::Timestamp(TimeUnit::Nanosecond, None), "n"),
            (
                DataType::Struct(vec![Field::new("u", DataType::UInt64, true)].into()),
                "n.u",
            ),
        ] {
            match canonical(&schema(vec![Field::new("n", data_type, true)])) {
                Err(LakeError::UnsupportedType { column: got, .. }) => assert_eq!(got, column),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn timestamps_become_microseconds_and_zones_utc() {
        let given = schema(vec![
            Field::new(
                "a",
                DataType::Timestamp(TimeUnit::Millisecond, Some("+02:00".into())),
                true,
            ),
            Field::new("b", DataType::Timestamp(TimeUnit::Second, None), false),
            Field::new("c", DataType::LargeUtf8, true),
        ]);
        let canonical = canonical(&given).unwrap();
        assert_eq!(
            canonical.field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        assert_eq!(
            canonical.field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert!(!canonical.field(1).is_nullable());
        assert_eq!(canonical.field(2).data_type(), &DataType::Utf8);
    }

    #[test]
    fn differences_name_every_column() {
        let table = schema(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("gone", DataType::Utf8, true),
        ]);
        let data = schema(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Int32, true),
            Field::new("new", DataType::Boolean, true),
        ]);
        let Err(LakeError::SchemaMismatch { differences, .. }) = check_compatible("d1", &table, &data) else {
            panic!("a mismatch expected")
        };
        let text = differences.join("\n");
        for column in ["`id`", "`name`", "`gone`", "`new`"] {
            assert!(text.contains(column), "{column} in {text}");
        }
        assert!(text.contains("long not null in the table but long nullable"), "{text}");
        assert!(check_compatible("d1", &data, &table).is_err());
        let relaxed = schema(vec![Field::new("id", DataType::Int64, false)]);
        let nullable = schema(vec![Field::new("id", DataType::Int64, true)]);
        assert!(check_compatible("d1", &nullable, &relaxed).is_ok());
    }
}
