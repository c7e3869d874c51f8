//! Schema differences, renames, merge keys and a write's target schema.

use super::*;

fn schema(fields: Vec<Field>) -> Schema {
    Schema::new(fields)
}

#[test]
fn each_kind_of_difference_is_named_with_both_types() {
    let table = schema(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("n", DataType::Int32, true),
        Field::new("price", DataType::Decimal128(10, 2), true),
        Field::new("code", DataType::Int64, true),
        Field::new("gone", DataType::Utf8, true),
        Field::new("strict", DataType::Utf8, false),
    ]);
    let data = schema(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("n", DataType::Int64, true),
        Field::new("price", DataType::Decimal128(14, 2), true),
        Field::new("code", DataType::Int32, true),
        Field::new("strict", DataType::Utf8, true),
        Field::new("extra", DataType::Utf8, true),
    ]);
    let found = differences(&table, &data).unwrap();
    let seen: Vec<(&str, SchemaChangeKind, Option<&str>, Option<&str>)> = found
        .iter()
        .map(|d| (d.column.as_str(), d.kind, d.from.as_deref(), d.to.as_deref()))
        .collect();
    use SchemaChangeKind::*;
    assert_eq!(
        seen,
        vec![
            ("n", Widened, Some("integer"), Some("long")),
            ("price", Widened, Some("decimal(10,2)"), Some("decimal(14,2)")),
            ("code", TypeChanged, Some("long"), Some("integer")),
            ("gone", Dropped, Some("string"), None),
            ("strict", NullAllowed, Some("string"), Some("string")),
            ("extra", Added, None, Some("string")),
        ]
    );
    assert!(differences(&table, &table).unwrap().is_empty());
}

#[test]
fn widenings_hold_every_value_and_narrowings_are_not_widenings() {
    use DataType::*;
    let ntz = Timestamp(TimeUnit::Microsecond, None);
    let tz = Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    for (from, to) in [
        (Int16, Int32),
        (Int32, Int64),
        (Float32, Float64),
        (Int32, Float64),
        (Decimal128(10, 2), Decimal128(14, 2)),
        (Decimal128(10, 2), Decimal128(11, 3)),
        (Int32, Decimal128(12, 2)),
        (Date32, ntz.clone()),
    ] {
        assert!(widens(&from, &to), "{from} -> {to}");
    }
    for (from, to) in [
        (Int64, Int32),
        (Int64, Float64),
        (Utf8, Int32),
        (Int32, Utf8),
        (Decimal128(14, 2), Decimal128(10, 2)),
        (Decimal128(10, 2), Decimal128(10, 3)),
        (Int64, Decimal128(18, 0)),
        (ntz.clone(), tz),
        (ntz, Date32),
    ] {
        assert!(!widens(&from, &to), "{from} -> {to}");
    }
}

#[test]
fn a_dropped_and_an_added_column_of_one_source_position_are_a_rename() {
    let at = |position: &str| HashMap::from([(SOURCE_POSITION.to_string(), position.to_string())]);
    let table = schema(vec![
        Field::new("id", DataType::Int64, false).with_metadata(at("1")),
        Field::new("old_name", DataType::Utf8, true).with_metadata(at("2")),
        Field::new("gone", DataType::Utf8, true).with_metadata(at("3")),
    ]);
    let data = schema(vec![
        Field::new("id", DataType::Int64, false).with_metadata(at("1")),
        Field::new("new_name", DataType::Utf8, true).with_metadata(at("2")),
        Field::new("extra", DataType::Utf8, true).with_metadata(at("4")),
    ]);
    let found = differences(&table, &data).unwrap();
    let seen: Vec<(&str, SchemaChangeKind, Option<&str>, Option<&str>)> = found
        .iter()
        .map(|d| (d.column.as_str(), d.kind, d.from.as_deref(), d.to.as_deref()))
        .collect();
    use SchemaChangeKind::*;
    assert_eq!(
        seen,
        vec![
            ("gone", Dropped, Some("string"), None),
            ("new_name", Renamed, Some("old_name"), Some("new_name")),
            ("extra", Added, None, Some("string")),
        ]
    );
}

#[test]
fn a_merge_key_is_marked_in_order_and_a_new_one_differs() {
    let fields = vec![
        Field::new("region", DataType::Utf8, false),
        Field::new("id", DataType::Int64, false),
        Field::new("n", DataType::Int64, true),
    ];
    let marked = Schema::new(mark_key(fields.clone(), &["id".into(), "region".into()]));
    assert_eq!(merge_key(&marked), ["id", "region"]);
    assert_eq!(key_difference(&marked, &["id".into(), "region".into()]), None);
    let changed = key_difference(&marked, &["id".into()]).unwrap();
    assert_eq!(changed.kind, SchemaChangeKind::KeyChanged);
    assert_eq!(
        (changed.from.as_deref(), changed.to.as_deref()),
        (Some("(id, region)"), Some("(id)"))
    );
    assert_eq!(
        key_difference(&Schema::new(fields), &["id".into()]),
        None,
        "no key marked yet"
    );
}

#[test]
fn the_target_widens_relaxes_keeps_and_adds() {
    let table = schema(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("n", DataType::Int32, false),
        Field::new("gone", DataType::Utf8, false),
    ]);
    let data = schema(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("n", DataType::Int64, false),
        Field::new("extra", DataType::Utf8, false),
        Field::new("skipped", DataType::Utf8, true),
    ]);
    let evolution = Evolution {
        add: vec!["extra".into()],
        widen: vec!["n".into()],
        fill: vec!["gone".into()],
        relax: Vec::new(),
        ignore: vec!["skipped".into()],
        replace: false,
    };
    let target = evolution.target(&table, &data).unwrap();
    let described: Vec<(&str, &DataType, bool)> = target
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type(), f.is_nullable()))
        .collect();
    assert_eq!(
        described,
        vec![
            ("id", &DataType::Int64, false),
            ("n", &DataType::Int64, false),
            ("gone", &DataType::Utf8, true),
            ("extra", &DataType::Utf8, true),
        ]
    );
}
