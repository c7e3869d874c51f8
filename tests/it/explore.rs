//! Explore against real PostgreSQL servers (§7): the root list, every common type's column
//! and preview value, privileges, hostile names; the Redshift dialect against a PostgreSQL
//! standing in for Redshift; and a catalog of 1,000 tables.

pub(crate) mod redshift;
mod scale;

use crate::common::pg::{Auth, PgOptions, PgServer, User};
use inlet::sources::postgres::explore::{describe, list_tables, preview};
use inlet::sources::schema::column_json;
use inlet::sources::schema::{TableSchema, entry_json};
use inlet::sources::{SourceErrorKind, TableRef};
use serde_json::{Value, json};
use tokio_postgres::{Client, NoTls};

const READER: &str = "reader";
const READER_PASSWORD: &str = "reader-pw";

/// Connects as `user` over TCP without TLS; the connection runs on a spawned task.
pub async fn connect(pg: &PgServer, user: &str, password: &str, database: &str) -> Client {
    let url = pg.url(user, password, database);
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

pub fn table(text: &str) -> TableRef {
    TableRef::parse(text, "public").expect("a valid table name")
}

pub fn reader() -> User {
    User::new(READER, READER_PASSWORD, Auth::Scram)
}

const FIXTURE: &str = r#"
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE DOMAIN amount AS numeric(12,2);
CREATE TABLE all_types (
    id int8 NOT NULL, i2 int2, i4 int4, i8 int8, n38 numeric(38,10), n numeric, f8 float8, f4 real,
    b bool, t text, vc varchar(20), c5 char(5), u uuid, j json, jb jsonb, by bytea,
    d date, tm time, ts timestamp, tstz timestamptz, iv interval, ip inet, m mood,
    ia int[], ta text[], amt amount, da date[]
);
INSERT INTO all_types VALUES
 (1, -32768, 2147483647, 9223372036854775807, '12345678901234567890123456.0123456789', 'NaN',
  'Infinity', 1.5, true, 'hello', 'varchar text', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"b": [1, 2], "a": null}', '{"b": 1, "a": "x"}', '\x0102ff', '0044-03-15 BC', '10:11:12.5',
  '2024-05-01 10:00:00.5', '2024-05-01 12:00:00.25+02', '1 year 2 months 3 days 04:05:06.5',
  '192.168.0.1/24', 'happy', '{1,NULL,3}', '{"a,b","q\"x",NULL,"NULL",""}', 12.5, '{2024-05-01,NULL}'),
 (2, 32767, -2147483648, -9223372036854775808, '-0.0000000001',
  '123456789012345678901234567890.1234567890123', '-Infinity', -0.25, false, '', 'ünïcödé', 'abcde',
  NULL, '[1, 2]', '[]', '\x', '-infinity', '23:59:59.999999', '-infinity', 'infinity', '-1 day',
  '::1', 'sad', '{{1,2},{3,4}}', '{}', -0.01, '{}');
INSERT INTO all_types (id, f8, f4, d, ts, tstz) VALUES
 (3, 'NaN', 3.4028235e38, 'infinity', '2000-02-29 00:00:00', '1999-12-31 23:59:59.123456-05');
INSERT INTO all_types (id, f8) VALUES (4, 0.1);

CREATE TABLE "Order Lines" ("Line No" int, "Qty" numeric(10,2), "Note; DROP TABLE all_types --""x" text);
INSERT INTO "Order Lines" VALUES (1, 2.5, 'n');
CREATE SCHEMA "Mixed Schema";
CREATE TABLE "Mixed Schema"."Order Lines" (id int);
INSERT INTO "Mixed Schema"."Order Lines" VALUES (7);
CREATE VIEW order_view AS SELECT id, t FROM all_types;
CREATE MATERIALIZED VIEW order_mv AS SELECT id FROM all_types WHERE id < 3;
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO events VALUES (1, '2023-06-01'), (2, '2024-06-01');
CREATE TABLE secret (x int);
CREATE TABLE partial (a int, b int);
INSERT INTO partial VALUES (1, 2);
CREATE SCHEMA hidden;
CREATE TABLE hidden.t (x int);

GRANT USAGE ON SCHEMA "Mixed Schema" TO reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public, "Mixed Schema", hidden TO reader;
REVOKE SELECT ON secret, partial FROM reader;
GRANT SELECT (a) ON partial TO reader;
"#;

/// A server with the fixture in database `shop`, and a client connected as the reader.
async fn fixture() -> (PgServer, Client) {
    let pg = PgServer::start(PgOptions {
        users: vec![reader()],
        ..Default::default()
    });
    pg.create_database("shop");
    pg.psql("shop", FIXTURE);
    let client = connect(&pg, READER, READER_PASSWORD, "shop").await;
    (pg, client)
}

#[tokio::test]
async fn root_lists_readable_tables_and_views_but_no_partitions_or_system_schemas() {
    let (_pg, client) = fixture().await;
    let entries = list_tables(&client).await.unwrap();
    let listed: Vec<Value> = entries.iter().map(entry_json).collect();
    let entry = |path: &str, kind: &str| {
        json!({"type": "table", "name": path, "path": path, "canPreview": true, "canFetchSchema": true,
               "meta": {"kind": kind}})
    };
    let expected = vec![
        entry(r#""Mixed Schema"."Order Lines""#, "table"),
        entry(r#"public."Order Lines""#, "table"),
        entry("public.all_types", "table"),
        entry("public.events", "partitionedTable"),
        entry("public.order_mv", "materializedView"),
        entry("public.order_view", "view"),
        entry("public.partial", "table"),
    ];
    assert_eq!(listed, expected);
    // Named again so that the reason each is missing reads here: partitions, no SELECT,
    // no USAGE on the schema, system schemas.
    let paths: Vec<String> = listed.iter().map(|e| e["path"].as_str().unwrap().to_string()).collect();
    for absent in ["public.events_2023", "public.events_2024", "public.secret", "hidden.t"] {
        assert!(!paths.contains(&absent.to_string()), "{absent} is listed");
    }
    let system = |p: &String| p.starts_with("pg_") || p.starts_with("information_schema.");
    assert!(!paths.iter().any(system), "{paths:?}");
}

fn column(name: &str, inlet: &str, xdm: Value, original: &str) -> Value {
    json!({"name": name, "type": inlet, "xdm": xdm, "meta": {"originalType": original}})
}

fn string(name: &str, original: &str) -> Value {
    column(name, "string", json!({"type": "string"}), original)
}

fn dated(name: &str, format: &str, original: &str) -> Value {
    json!({"name": name, "type": "string", "meta:xdmType": format,
           "xdm": {"type": "string", "format": format}, "meta": {"originalType": original}})
}

#[tokio::test]
async fn describe_maps_every_common_type() {
    let (_pg, client) = fixture().await;
    let schema = describe(&client, &table("public.all_types")).await.unwrap();
    let integer = || json!({"type": "integer"});
    let number = || json!({"type": "number"});
    let expected = vec![
        column("id", "long", integer(), "bigint"),
        column("i2", "integer", integer(), "smallint"),
        column("i4", "integer", integer(), "integer"),
        column("i8", "long", integer(), "bigint"),
        json!({"name": "n38", "type": "decimal", "xdm": number(),
               "meta": {"originalType": "numeric(38,10)", "precision": 38, "scale": 10}}),
        column("n", "decimal", number(), "numeric"),
        column("f8", "double", number(), "double precision"),
        column("f4", "double", number(), "real"),
        column("b", "boolean", json!({"type": "boolean"}), "boolean"),
        string("t", "text"),
        string("vc", "character varying(20)"),
        string("c5", "character(5)"),
        string("u", "uuid"),
        string("j", "json"),
        string("jb", "jsonb"),
        column(
            "by",
            "binary",
            json!({"type": "string", "contentEncoding": "base64"}),
            "bytea",
        ),
        dated("d", "date", "date"),
        string("tm", "time without time zone"),
        dated("ts", "date-time", "timestamp without time zone"),
        dated("tstz", "date-time", "timestamp with time zone"),
        string("iv", "interval"),
        string("ip", "inet"),
        string("m", "mood"),
        json!({"name": "ia", "type": "array", "items": {"type": "integer"},
               "xdm": {"type": "array", "items": {"type": "integer"}}, "meta": {"originalType": "integer[]"}}),
        json!({"name": "ta", "type": "array", "items": {"type": "string"},
               "xdm": {"type": "array", "items": {"type": "string"}}, "meta": {"originalType": "text[]"}}),
        json!({"name": "amt", "type": "decimal", "xdm": number(),
               "meta": {"originalType": "amount", "precision": 12, "scale": 2}}),
        json!({"name": "da", "type": "array", "items": {"type": "string", "meta:xdmType": "date"},
               "xdm": {"type": "array", "items": {"type": "string", "format": "date"}},
               "meta": {"originalType": "date[]"}}),
    ];
    let described: Vec<Value> = schema.columns.iter().map(column_json).collect();
    assert_eq!(described.len(), expected.len());
    for (got, want) in described.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    let nullable: Vec<bool> = schema.columns.iter().take(3).map(|c| c.nullable).collect();
    assert_eq!(nullable, [false, true, true]);
}

#[tokio::test]
async fn preview_shows_every_value_exactly() {
    let (_pg, client) = fixture().await;
    let schema = describe(&client, &table("public.all_types")).await.unwrap();
    let rows: Vec<Value> = preview(&client, &schema, 10)
        .await
        .unwrap()
        .into_iter()
        .map(Value::Object)
        .collect();
    let nulls = |id: i64, set: Value| {
        let mut row = json!({"id": id});
        for c in &schema.columns[1..] {
            row[&c.name] = set.get(&c.name).cloned().unwrap_or(Value::Null);
        }
        row
    };
    let expected = vec![
        json!({"id": 1, "i2": -32768, "i4": 2147483647, "i8": 9223372036854775807i64,
               "n38": "12345678901234567890123456.0123456789", "n": "NaN", "f8": "Infinity", "f4": 1.5,
               "b": true, "t": "hello", "vc": "varchar text", "c5": "ab   ",
               "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": r#"{"b": [1, 2], "a": null}"#,
               "jb": r#"{"a": "x", "b": 1}"#, "by": "AQL/", "d": "-0043-03-15", "tm": "10:11:12.5",
               "ts": "2024-05-01T10:00:00.5", "tstz": "2024-05-01T10:00:00.25Z", "iv": "P1Y2M3DT4H5M6.5S",
               "ip": "192.168.0.1/24", "m": "happy", "ia": [1, null, 3], "ta": ["a,b", "q\"x", null, "NULL", ""],
               "amt": "12.50", "da": ["2024-05-01", null]}),
        json!({"id": 2, "i2": 32767, "i4": -2147483648, "i8": i64::MIN, "n38": "-0.0000000001",
               "n": "123456789012345678901234567890.1234567890123", "f8": "-Infinity", "f4": -0.25,
               "b": false, "t": "", "vc": "ünïcödé", "c5": "abcde", "u": null, "j": "[1, 2]", "jb": "[]",
               "by": "", "d": "-infinity", "tm": "23:59:59.999999", "ts": "-infinity", "tstz": "infinity",
               "iv": "P-1D", "ip": "::1", "m": "sad", "ia": [[1, 2], [3, 4]], "ta": [], "amt": "-0.01", "da": []}),
        nulls(
            3,
            json!({"f8": "NaN", "f4": 3.4028235e38, "d": "infinity", "ts": "2000-02-29T00:00:00",
                        "tstz": "2000-01-01T04:59:59.123456Z"}),
        ),
        nulls(4, json!({"f8": 0.1})),
    ];
    assert_eq!(rows.len(), expected.len());
    for (got, want) in rows.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    let two = preview(&client, &schema, 2).await.unwrap();
    assert_eq!(two.len(), 2);
}

#[tokio::test]
async fn quoted_names_views_partitions_and_column_privileges() {
    let (_pg, client) = fixture().await;
    let rows = |schema: TableSchema| {
        let client = &client;
        async move {
            preview(client, &schema, 10)
                .await
                .unwrap()
                .into_iter()
                .map(Value::Object)
                .collect::<Vec<_>>()
        }
    };
    let lines = describe(&client, &table(r#"public."Order Lines""#)).await.unwrap();
    let names: Vec<&str> = lines.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Line No", "Qty", "Note; DROP TABLE all_types --\"x"]);
    let expected = json!([{"Line No": 1, "Qty": "2.50", "Note; DROP TABLE all_types --\"x": "n"}]);
    assert_eq!(Value::Array(rows(lines).await), expected);
    let mixed = describe(&client, &table(r#""Mixed Schema"."Order Lines""#))
        .await
        .unwrap();
    assert_eq!(Value::Array(rows(mixed).await), json!([{"id": 7}]));

    let view = describe(&client, &table("order_view")).await.unwrap();
    let view_columns: Vec<Value> = view.columns.iter().map(column_json).collect();
    assert_eq!(
        view_columns,
        [
            column("id", "long", json!({"type": "integer"}), "bigint"),
            string("t", "text")
        ]
    );
    assert!(view.columns.iter().all(|c| c.nullable));
    assert_eq!(rows(view).await.len(), 4);
    let mv = describe(&client, &table("order_mv")).await.unwrap();
    assert_eq!(Value::Array(rows(mv).await), json!([{"id": 1}, {"id": 2}]));
    let events = describe(&client, &table("events")).await.unwrap();
    let expected = json!([{"id": 1, "at": "2023-06-01"}, {"id": 2, "at": "2024-06-01"}]);
    assert_eq!(Value::Array(rows(events).await), expected);

    // SELECT on column `a` only: describe shows only it, so preview can read it.
    let partial = describe(&client, &table("partial")).await.unwrap();
    assert_eq!(
        partial.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(Value::Array(rows(partial).await), json!([{"a": 1}]));
}

#[tokio::test]
async fn missing_unreadable_and_hostile_tables_are_not_found() {
    let (pg, client) = fixture().await;
    for name in [
        "public.missing",
        "public.secret",
        "hidden.t",
        "pg_catalog.nope",
        "events_2023x",
    ] {
        let error = describe(&client, &table(name)).await.unwrap_err();
        assert_eq!(error.kind, SourceErrorKind::TableNotFound, "{name}: {error}");
        let shown = inlet::sources::schema::object_path(&table(name));
        assert!(error.message.contains(&shown), "{error}");
    }

    assert!(TableRef::parse("public.t; DROP TABLE x", "public").is_err());
    // Quoted, SQL text is only a name, and no table has it.
    let hostile = table(r#"public."all_types; DROP TABLE all_types""#);
    let error = describe(&client, &hostile).await.unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::TableNotFound, "{error}");
    let mut schema = describe(&client, &table("all_types")).await.unwrap();
    schema.table = hostile;
    let error = preview(&client, &schema, 10).await.unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::TableNotFound, "{error}");

    assert_eq!(pg.psql("shop", "SELECT count(*) FROM all_types"), "4");
    assert_eq!(list_tables(&client).await.unwrap().len(), 7);
}

#[tokio::test]
async fn domains_arrays_and_look_alike_types_resolve_exactly() {
    let (pg, client) = fixture().await;
    pg.psql(
        "shop",
        r#"CREATE DOMAIN int_list AS int[];
           CREATE SCHEMA fake;
           CREATE TYPE fake.int4 AS ENUM ('x');
           CREATE TABLE odd (il int_list, ill int_list[], boxes box[], prices numeric(10,2)[], f fake.int4);
           INSERT INTO odd VALUES ('{1,2}', ARRAY['{1,2}', '{}']::int_list[], '{(1,1),(0,0);(2,2),(1,1)}',
                                   '{1.5,NULL}', 'x');
           CREATE TABLE empty ();
           INSERT INTO empty DEFAULT VALUES;
           GRANT USAGE ON SCHEMA fake TO reader;
           GRANT SELECT ON odd, empty TO reader;"#,
    );
    let odd = describe(&client, &table("odd")).await.unwrap();
    let ints = json!({"type": "array", "items": {"type": "integer"}});
    let expected = vec![
        json!({"name": "il", "type": "array", "items": {"type": "integer"}, "xdm": ints,
               "meta": {"originalType": "int_list"}}),
        json!({"name": "ill", "type": "array", "items": {"type": "array", "items": {"type": "integer"}},
               "xdm": {"type": "array", "items": ints}, "meta": {"originalType": "int_list[]"}}),
        string("boxes", "box[]"),
        json!({"name": "prices", "type": "array", "items": {"type": "decimal"},
               "xdm": {"type": "array", "items": {"type": "number"}},
               "meta": {"originalType": "numeric(10,2)[]", "precision": 10, "scale": 2}}),
        string("f", "fake.int4"),
    ];
    assert_eq!(odd.columns.iter().map(column_json).collect::<Vec<_>>(), expected);
    let rows = preview(&client, &odd, 10).await.unwrap();
    let expected = json!({"il": [1, 2], "ill": [[1, 2], []], "boxes": "{(1,1),(0,0);(2,2),(1,1)}",
                          "prices": ["1.50", null], "f": "x"});
    assert_eq!(Value::Object(rows[0].clone()), expected);

    let empty = describe(&client, &table("empty")).await.unwrap();
    assert!(empty.columns.is_empty());
    assert_eq!(preview(&client, &empty, 10).await.unwrap(), [serde_json::Map::new()]);
}
