//! Exactness: every type a source produces reads back from the lake as the same type and
//! the same value, checked with the independent Python reader.

use std::sync::Arc;

use inlet::lake::arrow::array::{
    ArrayRef, BinaryArray, Date32Array, Decimal128Array, Int32Array, Int64Array, LargeStringArray, ListArray,
    StringArray, StructArray, TimestampMicrosecondArray, TimestampMillisecondArray,
};
use inlet::lake::arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use inlet::lake::arrow::record_batch::RecordBatch;
use inlet::lake::{CommitOutcome, Lake, LakeError, WriteMode};
use serde_json::{Value, json};

use crate::common::delta::{lake_in, ok_stream, read, spec};

fn every_type() -> RecordBatch {
    let nested = Arc::new(StructArray::from(vec![
        (
            Arc::new(Field::new("a", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![Some(1), None])) as ArrayRef,
        ),
        (
            Arc::new(Field::new("b", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![Some("x"), Some("y")])) as ArrayRef,
        ),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2])),
        Arc::new(
            Decimal128Array::from(vec![Some(12_345_678_901_234_567_890_123_456_789_012_345_678), None])
                .with_precision_and_scale(38, 10)
                .unwrap(),
        ),
        Arc::new(TimestampMicrosecondArray::from(vec![Some(1_714_557_600_123_456), None]).with_timezone("UTC")),
        Arc::new(TimestampMicrosecondArray::from(vec![
            Some(1_714_557_600_654_321),
            Some(0),
        ])),
        Arc::new(TimestampMillisecondArray::from(vec![Some(1_714_557_600_123), None]).with_timezone("+02:00")),
        Arc::new(Date32Array::from(vec![Some(19_844), Some(-1)])),
        Arc::new(BinaryArray::from(vec![Some(&[0u8, 255, 16][..]), Some(&[][..])])),
        Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(2), None]),
            None,
        ])),
        nested,
        Arc::new(LargeStringArray::from(vec![Some("large"), None])),
    ];
    let fields: Vec<Field> = [
        ("id", false),
        ("amount", true),
        ("placed_at", true),
        ("local_at", true),
        ("zoned_ms", true),
        ("day", true),
        ("raw", true),
        ("tags", true),
        ("nested", true),
        ("text", true),
    ]
    .iter()
    .zip(&columns)
    .map(|((name, nullable), column)| Field::new(*name, column.data_type().clone(), *nullable))
    .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// Writes the two rows of [`every_type`] to `dataset` (txn `f`/1).
pub async fn write_every_type(lake: &Lake, dataset: &str) -> CommitOutcome {
    let batch = every_type();
    lake.write(
        dataset,
        batch.schema(),
        ok_stream(vec![batch]),
        spec(WriteMode::Append, "f", 1),
    )
    .await
    .expect("write every type")
}

#[tokio::test]
async fn every_type_reads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_in(&dir, 128 << 20);
    let outcome = write_every_type(&lake, "types").await;
    assert!(
        matches!(outcome, CommitOutcome::Committed { rows: 2, .. }),
        "{outcome:?}"
    );

    let table = read(&lake.table_location("types"), true);
    let types: Vec<(String, String, bool)> = table["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["type"].as_str().unwrap().to_string(),
                f["nullable"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("id", "int64", false),
        ("amount", "decimal128(38, 10)", true),
        ("placed_at", "timestamp[us, tz=UTC]", true),
        ("local_at", "timestamp[us]", true),
        ("zoned_ms", "timestamp[us, tz=UTC]", true),
        ("day", "date32[day]", true),
        ("raw", "binary", true),
        ("tags", "list<element: int32>", true),
        ("nested", "struct<a: int32, b: string>", true),
        ("text", "string", true),
    ];
    let expected: Vec<(String, String, bool)> = expected
        .iter()
        .map(|(n, t, null)| (n.to_string(), t.to_string(), *null))
        .collect();
    assert_eq!(types, expected);

    assert_eq!(table["protocol"]["minReaderVersion"], 3);
    assert_eq!(table["protocol"]["minWriterVersion"], 7);
    assert_eq!(table["protocol"]["readerFeatures"], json!(["timestampNtz"]));
    assert_eq!(table["protocol"]["writerFeatures"], json!(["timestampNtz"]));

    let first: &Value = &table["data"][0];
    assert_eq!(first["id"], 1);
    assert_eq!(first["amount"], "1234567890123456789012345678.9012345678");
    assert_eq!(first["placed_at"], "2024-05-01T10:00:00.123456+00:00");
    assert_eq!(first["local_at"], "2024-05-01T10:00:00.654321");
    assert_eq!(first["zoned_ms"], "2024-05-01T10:00:00.123000+00:00");
    assert_eq!(first["day"], "2024-05-01");
    assert_eq!(first["raw"], json!({"base64": "AP8Q"}));
    assert_eq!(first["tags"], json!([1, 2, null]));
    assert_eq!(first["nested"], json!({"a": 1, "b": "x"}));
    assert_eq!(first["text"], "large");
    let second: &Value = &table["data"][1];
    assert_eq!(second["amount"], Value::Null);
    assert_eq!(second["local_at"], "1970-01-01T00:00:00");
    assert_eq!(second["day"], "1969-12-31");
    assert_eq!(second["raw"], json!({"base64": ""}));
    assert_eq!(second["tags"], Value::Null);
    assert_eq!(second["nested"], json!({"a": null, "b": "y"}));

    let schema = lake.table_schema("types").await.unwrap().expect("a table");
    assert_eq!(
        schema.field_with_name("placed_at").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
}

#[tokio::test]
async fn lossy_types_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_in(&dir, 128 << 20);
    let schema = Arc::new(Schema::new(vec![Field::new(
        "at",
        DataType::Timestamp(TimeUnit::Nanosecond, None),
        true,
    )]));
    let error = lake
        .write(
            "lossy",
            schema.clone(),
            ok_stream(vec![RecordBatch::new_empty(schema)]),
            spec(WriteMode::Append, "f", 1),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LakeError::UnsupportedType { column, .. } if column == "at"),
        "{error}"
    );
    assert!(error.to_string().contains("microseconds"), "{error}");
    assert!(!std::path::Path::new(&lake.table_location("lossy")).exists());
}
