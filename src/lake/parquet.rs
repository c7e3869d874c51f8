//! How Inlet's Parquet files are laid out, column by column. Every choice here was made by
//! measuring copies of a TPC-H-shaped table (docs/lake.md, "Parquet settings"): the
//! layout decides most of a copy's CPU and the size of the lake.

use deltalake::arrow::datatypes::{DataType, SchemaRef};
use deltalake::parquet::basic::{Compression, Encoding, ZstdLevel};
use deltalake::parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use deltalake::parquet::schema::types::ColumnPath;

/// Rows in a row group at most: the row group being built is held in memory, so this
/// (with `row_group_bytes`) bounds a write's memory.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// How one top-level column is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnLayout {
    /// Strings: a dictionary (parquet falls back to plain by itself once a column's
    /// dictionary outgrows its page), then zstd level 1. Codes, statuses and flags
    /// shrink to a few bits per value, and zstd makes text far smaller than snappy.
    Text,
    /// Integers, dates, timestamps and decimals of up to 18 digits (all stored as 32- or
    /// 64-bit integers): delta encoding, then snappy. Delta encoding packs keys, prices and
    /// dates into the few bits they differ by, which leaves little for a codec to find,
    /// so the cheapest codec does as well as zstd.
    Integer,
    /// Everything else (floats, wide decimals, binary, booleans, nested types): plain,
    /// then zstd level 1.
    Other,
}

impl ColumnLayout {
    /// The layout of a column of `data_type`.
    pub fn of(data_type: &DataType) -> ColumnLayout {
        match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnLayout::Text,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Date32
            | DataType::Timestamp(_, _) => ColumnLayout::Integer,
            DataType::Decimal128(precision, _) if *precision <= 18 => ColumnLayout::Integer,
            _ => ColumnLayout::Other,
        }
    }

    fn apply(self, builder: WriterPropertiesBuilder, column: ColumnPath) -> WriterPropertiesBuilder {
        match self {
            ColumnLayout::Text => builder.set_column_dictionary_enabled(column, true),
            ColumnLayout::Integer => builder
                .set_column_encoding(column.clone(), Encoding::DELTA_BINARY_PACKED)
                .set_column_compression(column, Compression::SNAPPY),
            ColumnLayout::Other => builder,
        }
    }
}

/// The writer settings for a table of `schema`: each top-level column laid out by its
/// type, row groups of at most [`ROW_GROUP_ROWS`] rows and `row_group_bytes` encoded bytes.
pub fn writer_properties(row_group_bytes: usize, schema: &SchemaRef) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(zstd())
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(row_group_bytes.max(1)))
        .set_created_by(format!(
            "inlet {} (delta-rs {})",
            env!("CARGO_PKG_VERSION"),
            deltalake::crate_version()
        ));
    for field in schema.fields() {
        builder = ColumnLayout::of(field.data_type()).apply(builder, ColumnPath::from(field.name().as_str()));
    }
    builder.build()
}

fn zstd() -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::datatypes::{Field, Schema, TimeUnit};
    use std::sync::Arc;

    #[test]
    fn each_column_is_laid_out_by_its_type() {
        let columns = [
            ("key", DataType::Int64),
            ("price", DataType::Decimal128(15, 2)),
            ("shipped", DataType::Date32),
            ("at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
            ("comment", DataType::Utf8),
            ("amount", DataType::Decimal128(38, 10)),
            ("ratio", DataType::Float64),
        ];
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, dt)| Field::new(*name, dt.clone(), true))
                .collect::<Vec<_>>(),
        ));
        let props = writer_properties(1 << 20, &schema);
        let layout = |name: &str| {
            let column = ColumnPath::from(name);
            (
                props.encoding(&column),
                props.dictionary_enabled(&column),
                props.compression(&column),
            )
        };
        let integer = (Some(Encoding::DELTA_BINARY_PACKED), false, Compression::SNAPPY);
        for name in ["key", "price", "shipped", "at"] {
            assert_eq!(layout(name), integer, "{name}");
        }
        assert_eq!(layout("comment"), (None, true, zstd()));
        for name in ["amount", "ratio"] {
            assert_eq!(layout(name), (None, false, zstd()), "{name}");
        }
        assert_eq!(props.max_row_group_row_count(), Some(ROW_GROUP_ROWS));
    }
}
