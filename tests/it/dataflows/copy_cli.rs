//! `inlet copy`: the type fixture round-trips exactly; values a lake cannot hold fail
//! the copy loudly and leave no table, or with `--skip-bad-rows` leave their rows out.

use std::process::{Command, Output};

use serde_json::json;

use crate::common::delta;
use crate::common::pg::{PgOptions, PgServer};

const FIXTURE: &str = "CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE public.all_types (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, n numeric(38,10), nu numeric,
  f8 float8, f4 real, b bool, t text, vc varchar(20), c char(5), u uuid, j json, jb jsonb, by bytea, d date,
  tm time, ts timestamp, tz timestamptz, iv interval, ip inet, e mood, ai int[], at text[]);
INSERT INTO public.all_types VALUES
 (1, 32767, -2147483648, 9223372036854775807, '1234567890123456789012345678.0123456789', '3.14159',
  0.1, 0.1, true, 'héllo ✓', 'varying', 'ab', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{\"a\":  1}', '{\"b\": [1, 2]}',
  '\\x00ff', '0001-01-01', '13:45:00.123456', '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999+02',
  '1 year 2 mons 3 days 04:05:06', '192.168.0.1/24', 'happy', '{1,NULL,3}', '{\"a\",NULL,\"b c\"}'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL);";

fn copy(pg: &PgServer, table: &str, to: &std::path::Path) -> Output {
    copy_with(pg, table, to, &[])
}

fn copy_with(pg: &PgServer, table: &str, to: &std::path::Path, more: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args([
            "copy",
            "--table",
            table,
            "--to",
            to.to_str().unwrap(),
            "--partitions",
            "2",
        ])
        .args(more)
        .env("INLET_SOURCE", pg.admin_url("shop"))
        .env_remove("INLET_CONFIG")
        .output()
        .expect("run inlet copy")
}

fn source(sql: &str) -> PgServer {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("shop");
    pg.psql("shop", sql);
    pg
}

#[tokio::test]
async fn the_type_fixture_round_trips_value_by_value() {
    let pg = source(FIXTURE);
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("lake").join("all_types");
    let out = copy(&pg, "public.all_types", &to);
    assert!(
        out.status.success(),
        "inlet copy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("copied 2 rows"), "{summary}");

    let table = delta::read(to.to_str().unwrap(), true);
    let mut rows = table["data"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r["id"].as_i64());
    let text = |sql: &str| pg.psql("shop", sql);
    let expected = json!({
        "id": 1, "i2": 32767, "i4": -2147483648i64, "i8": 9223372036854775807i64,
        "n": "1234567890123456789012345678.0123456789", "nu": "3.141590000000000000",
        "f8": 0.1, "f4": 0.10000000149011612, "b": true, "t": "héllo ✓", "vc": "varying", "c": "ab   ",
        "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": "{\"a\":  1}", "jb": "{\"b\": [1, 2]}",
        "by": {"base64": "AP8="}, "d": "0001-01-01", "tm": text("SELECT tm::text FROM all_types WHERE id = 1"),
        "ts": "2024-02-29T23:59:59.999999", "tz": "2024-02-29T21:59:59.999999+00:00",
        "iv": "P1Y2M3DT4H5M6S", "ip": "192.168.0.1/24", "e": "happy",
        "ai": [1, null, 3], "at": ["a", null, "b c"],
    });
    for (column, value) in expected.as_object().unwrap() {
        assert_eq!(&rows[0][column], value, "column {column}: {:#}", rows[0]);
    }
    let nulls = rows[1].as_object().unwrap();
    assert!(
        nulls.iter().all(|(column, value)| column == "id" || value.is_null()),
        "{:#}",
        rows[1]
    );
    let types: Vec<(String, String)> = table["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().into(), c["type"].as_str().unwrap().into()))
        .collect();
    let type_of = |name: &str| types.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone()).unwrap();
    assert_eq!(type_of("n"), "decimal128(38, 10)");
    assert_eq!(type_of("tz"), "timestamp[us, tz=UTC]");
    assert_eq!(type_of("ts"), "timestamp[us]");
    assert_eq!(type_of("d"), "date32[day]");
    assert_eq!(type_of("i8"), "int64");
}

#[tokio::test]
async fn values_a_lake_cannot_hold_fail_the_copy_naming_table_column_and_value() {
    let pg = source(
        "CREATE TABLE public.nan_total (id int, total numeric(10,2)); INSERT INTO nan_total VALUES (1, 1.5), (2, 'NaN');
         CREATE TABLE public.endless (id int, due date); INSERT INTO endless VALUES (1, 'infinity');
         CREATE TABLE public.ancient (id int, at timestamp); INSERT INTO ancient VALUES (1, '0044-03-15 12:00 BC');",
    );
    let dir = tempfile::tempdir().unwrap();
    for (table, column, value) in [
        ("nan_total", "total", "NaN"),
        ("endless", "due", "infinity"),
        ("ancient", "at", "BC"),
    ] {
        let to = dir.path().join(table);
        let out = copy(&pg, &format!("public.{table}"), &to);
        let error = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{table} was copied");
        for part in [table, column, value] {
            assert!(
                error.contains(part),
                "{table}: the error does not name `{part}`: {error}"
            );
        }
        assert!(!to.join("_delta_log").exists(), "{table}: a failed copy left a table");
    }
}

#[tokio::test]
async fn skip_bad_rows_copies_the_rest_and_names_the_rows_left_out() {
    let pg = source(
        "CREATE TABLE public.nan_total (id int PRIMARY KEY, total numeric(10,2));
         INSERT INTO nan_total VALUES (1, 1.5), (2, 'NaN'), (3, 2.5);",
    );
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("nan_total");
    let out = copy_with(&pg, "public.nan_total", &to, &["--skip-bad-rows"]);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(summary.contains("copied 2 rows"), "{summary}");
    assert!(
        summary.contains("skipped 1 row holding a value the lake cannot hold exactly:\n  public.nan_total.total holds NaN, which a decimal column cannot hold (key id = 2)"),
        "{summary}"
    );
    let table = delta::read(to.to_str().unwrap(), true);
    assert_eq!(table["rows"], 2, "{table:#}");
}

#[test]
fn a_bad_source_is_refused_without_echoing_the_password() {
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["copy", "--table", "t", "--to", "/tmp/never"])
        .env(
            "INLET_SOURCE",
            "postgres://u:Hunter2-secret@127.0.0.1:1/db?sslmode=sometimes",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("sslmode") && !error.contains("Hunter2-secret"),
        "{error}"
    );
}

#[tokio::test]
async fn a_copy_onto_a_table_whose_source_changed_takes_the_change_or_says_why_not() {
    let pg = source(
        "CREATE TABLE public.t (id int PRIMARY KEY, n int, gone text);
         INSERT INTO public.t VALUES (1, 10, 'g1');",
    );
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("t");
    let out = copy(&pg, "public.t", &to);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Widened, added and dropped: the default policy takes all three.
    pg.psql(
        "shop",
        "ALTER TABLE public.t ALTER COLUMN n TYPE bigint; ALTER TABLE public.t ADD COLUMN extra text;
         ALTER TABLE public.t DROP COLUMN gone; INSERT INTO public.t VALUES (2, 3000000000, 'x');",
    );
    // `pause` refuses any change, naming it, and writes nothing.
    let out = copy_with(&pg, "public.t", &to, &["--schema-policy", "pause"]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("`extra`") && error.contains("nothing was written"),
        "{error}"
    );
    assert_eq!(delta::read(to.to_str().unwrap(), false)["rows"], 1);
    let out = copy(&pg, "public.t", &to);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    for line in [
        "column `n`: integer → long (widened) (applied)",
        "column `gone`: string (dropped) (kept)",
        "column `extra`: string (added) (applied)",
    ] {
        assert!(summary.contains(line), "{line} in {summary}");
    }
    let table = delta::read(to.to_str().unwrap(), true);
    let mut rows = table["data"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(rows[1]["n"], 3_000_000_000i64);
    assert_eq!((&rows[1]["extra"], &rows[0]["gone"]), (&json!("x"), &json!(null)));

    // A narrowing is refused whatever the policy; --replace-schema takes the source's columns.
    pg.psql("shop", "ALTER TABLE public.t ALTER COLUMN n TYPE int USING 7");
    let out = copy(&pg, "public.t", &to);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("`n`: long → integer") && error.contains("--replace-schema"),
        "{error}"
    );
    let out = copy_with(&pg, "public.t", &to, &["--replace-schema"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = delta::read(to.to_str().unwrap(), true);
    let types: Vec<(String, String)> = table["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().into(), f["type"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        types,
        [("id", "int32"), ("n", "int32"), ("extra", "string")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
}
