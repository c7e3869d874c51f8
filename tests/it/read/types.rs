//! The explore type fixture, read through `Source::read`: every value of every column, as
//! Arrow values, exactly. The values no lake column can hold (NaN and infinite decimals,
//! infinite or out-of-range dates and timestamps, multi-dimensional arrays, decimals too
//! wide) are in tables of their own, and each read fails naming table, column and value.

use super::{binaries, column, days, lists, micros, postgres, primitive, read_all, request, strings};
use crate::common::pg::{PgOptions, PgServer};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_schema::{DataType, TimeUnit};
use inlet::sources::SourceErrorKind;

const FIXTURE: &str = r#"
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE DOMAIN amount AS numeric(12,2);
CREATE DOMAIN int_list AS int[];
CREATE TABLE all_types (
    id int8 NOT NULL, i2 int2, i4 int4, i8 int8, n38 numeric(38,10), n numeric, f8 float8, f4 real,
    b bool, t text, vc varchar(20), c5 char(5), u uuid, j json, jb jsonb, by bytea,
    d date, tm time, ts timestamp, tstz timestamptz, iv interval, ip inet, m mood,
    ia int[], ta text[], amt amount, da date[],
    nm name, ch "char", ipa inet[], ma mood[], na numeric(10,2)[], tsa timestamptz[], f4a real[],
    bx box[], il int_list, ill int_list[], ua uuid[]
);
INSERT INTO all_types VALUES
 (1, -32768, 2147483647, 9223372036854775807, '12345678901234567890123456.0123456789',
  '12345678901234567890.123456789012345678', 'Infinity', 1.5, true, 'hello', 'varchar text', 'ab',
  'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{"b": [1, 2], "a": null}', '{"b": 1, "a": "x"}', '\x0102ff',
  '0001-01-01', '10:11:12.5', '2024-05-01 10:00:00.5', '2024-05-01 12:00:00.25+02',
  '1 year 2 months 3 days 04:05:06.5', '192.168.0.1/24', 'happy', '{1,NULL,3}',
  '{"a,b","q\"x",NULL,"NULL",""}', 12.5, '{2024-05-01,NULL}',
  'a name', 'x', '{10.0.0.1,NULL}', '{sad,happy}', '{1.5,NULL}', '{"2024-05-01 00:00:00+00"}', '{0.1}',
  '{(1,1),(0,0);(2,2),(1,1)}', '{1,2}', ARRAY['{1,2}', '{}']::int_list[], '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'),
 (2, 32767, -2147483648, -9223372036854775808, '-0.0000000001',
  '-99999999999999999999.999999999999999999', '-Infinity', -0.25, false, '', 'ünïcödé', 'abcde',
  NULL, '[1, 2]', '[]', '\x', '9999-12-31', '23:59:59.999999', '0001-01-01 00:00:00',
  '9999-12-31 23:59:59.999999+00', '-1 day', '::1', 'sad', '{}', '{}', -0.01, '{}',
  '', NULL, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}');
INSERT INTO all_types (id, f8, f4, d, ts, tstz) VALUES
 (3, 'NaN', 3.4028235e38, '2000-02-29', '2000-02-29 00:00:00', '1999-12-31 23:59:59.123456-05');
INSERT INTO all_types (id, f8) VALUES (4, 0.1);

CREATE TABLE bad_nan (id int, amount numeric(12,2));
INSERT INTO bad_nan VALUES (1, 1), (2, 'NaN');
CREATE TABLE bad_infinite_numeric (n numeric);
INSERT INTO bad_infinite_numeric VALUES ('-Infinity');
CREATE TABLE bad_wide (n numeric);
INSERT INTO bad_wide VALUES ('123456789012345678901234567890.5');
CREATE TABLE bad_fraction (n numeric);
INSERT INTO bad_fraction VALUES ('0.1234567890123456789');
CREATE TABLE bad_date_infinity (d date);
INSERT INTO bad_date_infinity VALUES ('infinity');
CREATE TABLE bad_date_bc (d date);
INSERT INTO bad_date_bc VALUES ('0044-03-15 BC');
CREATE TABLE bad_date_far (d date);
INSERT INTO bad_date_far VALUES ('10000-01-01');
CREATE TABLE bad_timestamp_infinity (ts timestamp);
INSERT INTO bad_timestamp_infinity VALUES ('-infinity');
CREATE TABLE bad_timestamptz_infinity (tstz timestamptz);
INSERT INTO bad_timestamptz_infinity VALUES ('infinity');
CREATE TABLE bad_timestamp_bc (ts timestamp);
INSERT INTO bad_timestamp_bc VALUES ('0001-12-31 23:59:59.5 BC');
CREATE TABLE bad_array (ia int[]);
INSERT INTO bad_array VALUES ('{1}'), ('{{1,2},{3,4}}');
CREATE TABLE bad_precision (n numeric(50,2));
"#;

fn server() -> PgServer {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("shop");
    pg.psql("shop", FIXTURE);
    pg
}

#[tokio::test]
async fn every_common_type_reads_exactly_into_arrow() {
    let pg = server();
    let source = postgres(&pg, "shop");
    let stream = source.read(&request("all_types")).await.unwrap();
    let field = |name: &str| stream.schema.field_with_name(name).unwrap().data_type().clone();
    assert_eq!(field("n38"), DataType::Decimal128(38, 10));
    assert_eq!(field("n"), DataType::Decimal128(38, 18));
    assert_eq!(field("amt"), DataType::Decimal128(12, 2));
    assert_eq!(
        field("tstz"),
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(field("ts"), DataType::Timestamp(TimeUnit::Microsecond, None));
    assert_eq!(stream.table.columns.len(), 38);
    let b = super::collect(stream).await.unwrap();

    let int32 = |n| column(&b, n, primitive::<Int32Type>);
    let int64 = |n| column(&b, n, primitive::<Int64Type>);
    let decimal = |n| column(&b, n, primitive::<Decimal128Type>);
    let float = |n| column(&b, n, primitive::<Float64Type>);
    let text = |n| column(&b, n, strings);
    let s = |v: &str| Some(v.to_string());
    assert_eq!(int64("id"), [Some(1), Some(2), Some(3), Some(4)]);
    assert_eq!(int32("i2"), [Some(-32768), Some(32767), None, None]);
    assert_eq!(int32("i4"), [Some(i32::MAX), Some(i32::MIN), None, None]);
    assert_eq!(int64("i8"), [Some(i64::MAX), Some(i64::MIN), None, None]);
    assert_eq!(
        decimal("n38"),
        [Some(123456789012345678901234560123456789), Some(-1), None, None]
    );
    let most = 10i128.pow(38) - 1;
    assert_eq!(
        decimal("n"),
        [Some(12345678901234567890123456789012345678), Some(-most), None, None]
    );
    let f8 = float("f8");
    assert_eq!(
        (f8[0], f8[1], f8[3]),
        (Some(f64::INFINITY), Some(f64::NEG_INFINITY), Some(0.1))
    );
    assert!(f8[2].unwrap().is_nan());
    assert_eq!(
        float("f4"),
        [Some(1.5), Some(-0.25), Some(f64::from(3.4028235e38f32)), None]
    );
    let bools: Vec<Option<bool>> = column(&b, "b", |a| a.as_boolean().iter().collect());
    assert_eq!(bools, [Some(true), Some(false), None, None]);
    assert_eq!(text("t"), [s("hello"), s(""), None, None]);
    assert_eq!(text("vc"), [s("varchar text"), s("ünïcödé"), None, None]);
    assert_eq!(text("c5"), [s("ab   "), s("abcde"), None, None]);
    assert_eq!(text("u"), [s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), None, None, None]);
    assert_eq!(text("j"), [s(r#"{"b": [1, 2], "a": null}"#), s("[1, 2]"), None, None]);
    assert_eq!(text("jb"), [s(r#"{"a": "x", "b": 1}"#), s("[]"), None, None]);
    assert_eq!(
        column(&b, "by", binaries),
        [Some(vec![1, 2, 255]), Some(vec![]), None, None]
    );
    let dates = column(&b, "d", primitive::<Date32Type>);
    assert_eq!(
        dates,
        [
            Some(days("0001-01-01")),
            Some(days("9999-12-31")),
            Some(days("2000-02-29")),
            None
        ]
    );
    assert_eq!(text("tm"), [s("10:11:12.5"), s("23:59:59.999999"), None, None]);
    let ts = column(&b, "ts", primitive::<TimestampMicrosecondType>);
    let expected = ["2024-05-01T10:00:00.5Z", "0001-01-01T00:00:00Z", "2000-02-29T00:00:00Z"];
    assert_eq!(
        ts,
        expected
            .map(|t| Some(micros(t)))
            .into_iter()
            .chain([None])
            .collect::<Vec<_>>()
    );
    let tstz = column(&b, "tstz", primitive::<TimestampMicrosecondType>);
    let expected = [
        "2024-05-01T10:00:00.25Z",
        "9999-12-31T23:59:59.999999Z",
        "2000-01-01T04:59:59.123456Z",
    ];
    assert_eq!(
        tstz,
        expected
            .map(|t| Some(micros(t)))
            .into_iter()
            .chain([None])
            .collect::<Vec<_>>()
    );
    assert_eq!(text("iv"), [s("P1Y2M3DT4H5M6.5S"), s("P-1D"), None, None]);
    assert_eq!(text("ip"), [s("192.168.0.1/24"), s("::1"), None, None]);
    assert_eq!(text("m"), [s("happy"), s("sad"), None, None]);
    assert_eq!(decimal("amt"), [Some(1250), Some(-1), None, None]);
    assert_eq!(text("nm"), [s("a name"), s(""), None, None]);
    assert_eq!(text("ch"), [s("x"), None, None, None]);
    assert_eq!(text("bx"), [s("{(1,1),(0,0);(2,2),(1,1)}"), s("{}"), None, None]);
    check_arrays(&b);
}

/// An array column's rows: `first`, an empty list, NULL, NULL.
fn rows<T>(first: Vec<T>) -> Vec<Option<Vec<T>>> {
    vec![Some(first), Some(vec![]), None, None]
}

/// The array columns: rows 1 and 2 hold lists (row 2 empty ones), rows 3 and 4 NULL.
fn check_arrays(b: &[arrow_array::RecordBatch]) {
    let s = |v: &str| Some(v.to_string());
    let text_lists = |name| column(b, name, |a| lists(a, strings));
    assert_eq!(
        column(b, "ia", |a| lists(a, primitive::<Int32Type>)),
        rows(vec![Some(1), None, Some(3)])
    );
    assert_eq!(
        text_lists("ta"),
        rows(vec![s("a,b"), s("q\"x"), None, s("NULL"), s("")])
    );
    let da = column(b, "da", |a| lists(a, primitive::<Date32Type>));
    assert_eq!(da, rows(vec![Some(days("2024-05-01")), None]));
    assert_eq!(text_lists("ipa"), rows(vec![s("10.0.0.1"), None]));
    assert_eq!(text_lists("ma"), rows(vec![s("sad"), s("happy")]));
    let na = column(b, "na", |a| lists(a, primitive::<Decimal128Type>));
    assert_eq!(na, rows(vec![Some(150), None]));
    let tsa = column(b, "tsa", |a| lists(a, primitive::<TimestampMicrosecondType>));
    assert_eq!(tsa, rows(vec![Some(micros("2024-05-01T00:00:00Z"))]));
    let f4a = column(b, "f4a", |a| lists(a, primitive::<Float64Type>));
    assert_eq!(f4a, rows(vec![Some(f64::from(0.1f32))]));
    let il = column(b, "il", |a| lists(a, primitive::<Int32Type>));
    assert_eq!(il, rows(vec![Some(1), Some(2)]));
    let ill = column(b, "ill", |a| lists(a, |inner| lists(inner, primitive::<Int32Type>)));
    assert_eq!(ill, rows(vec![Some(vec![Some(1), Some(2)]), Some(vec![])]));
    assert_eq!(text_lists("ua"), rows(vec![s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")]));
}

#[tokio::test]
async fn values_no_lake_column_holds_fail_naming_table_column_and_value() {
    let pg = server();
    let source = postgres(&pg, "shop");
    let cases = [
        (
            "bad_nan",
            "public.bad_nan.amount holds NaN, which a decimal column cannot hold",
        ),
        (
            "bad_infinite_numeric",
            "public.bad_infinite_numeric.n holds -Infinity, which a decimal column cannot hold",
        ),
        (
            "bad_wide",
            "public.bad_wide.n holds 123456789012345678901234567890.5, which does not fit a decimal(38,18) column",
        ),
        (
            "bad_fraction",
            "public.bad_fraction.n holds 0.1234567890123456789, which has more fractional digits than the 18",
        ),
        (
            "bad_date_infinity",
            "public.bad_date_infinity.d holds infinity, which a date column cannot hold",
        ),
        (
            "bad_date_bc",
            "public.bad_date_bc.d holds 0044-03-15 BC, which is outside the years 0001 to 9999",
        ),
        (
            "bad_date_far",
            "public.bad_date_far.d holds 10000-01-01, which is outside the years 0001 to 9999",
        ),
        (
            "bad_timestamp_infinity",
            "public.bad_timestamp_infinity.ts holds -infinity, which a timestamp column cannot hold",
        ),
        (
            "bad_timestamptz_infinity",
            "public.bad_timestamptz_infinity.tstz holds infinity, which a timestamp column cannot hold",
        ),
        (
            "bad_timestamp_bc",
            "public.bad_timestamp_bc.ts holds 0001-12-31 23:59:59.5 BC, which is outside the years 0001 to 9999",
        ),
        (
            "bad_array",
            "public.bad_array.ia holds a 2-dimensional array, which a list column cannot hold",
        ),
    ];
    for (table, message) in cases {
        let error = read_all(source.as_ref(), &request(table)).await.unwrap_err();
        assert_eq!(error.kind, SourceErrorKind::Unsupported, "{table}: {error}");
        assert!(error.message.starts_with(message), "{table}: {error}");
    }
    // A column type no lake decimal holds fails before anything is read.
    let error = source
        .read(&request("bad_precision"))
        .await
        .err()
        .expect("numeric(50,2) is refused");
    assert_eq!(error.kind, SourceErrorKind::Unsupported, "{error}");
    assert!(error.message.contains("precision 50"), "{error}");
}

#[tokio::test]
async fn columns_are_read_in_the_order_asked_and_unknown_ones_are_refused() {
    let pg = server();
    let source = postgres(&pg, "shop");
    let mut asked = request("all_types");
    asked.columns = Some(vec!["t".into(), "id".into()]);
    let batches = read_all(source.as_ref(), &asked).await.unwrap();
    let names: Vec<String> = batches[0].schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["t", "id"]);
    assert_eq!(column(&batches, "id", primitive::<Int64Type>).len(), 4);
    asked.columns = Some(vec!["id".into(), "nope".into()]);
    let error = source.read(&asked).await.err().expect("an unknown column is refused");
    assert_eq!(error.kind, SourceErrorKind::ColumnNotFound, "{error}");
    let error = source.read(&request("missing")).await.err().expect("a missing table");
    assert_eq!(error.kind, SourceErrorKind::TableNotFound, "{error}");
}
