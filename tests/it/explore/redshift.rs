//! The Redshift dialect against a PostgreSQL server standing in for Redshift: results, and
//! from the server's statement log, that nothing PostgreSQL-only was sent.

use super::{connect, table};
use crate::common::pg::{Auth, PgOptions, PgServer, User};
use inlet::sources::SourceErrorKind;
use inlet::sources::redshift::explore::{FORBIDDEN_IN_REDSHIFT, describe, list_tables, preview};
use inlet::sources::schema::column_json;
use inlet::sources::schema::entry_json;
use serde_json::{Value, json};

const USER: &str = "rs_reader";

/// Redshift's own types only (no arrays, enums, json or bytea).
const FIXTURE: &str = r#"
CREATE SCHEMA sales;
CREATE SCHEMA other;
CREATE TABLE sales.orders (
    id bigint NOT NULL, qty smallint, n integer, price numeric(18,4), ratio real, score double precision,
    paid boolean, code char(3), note varchar(30), day date, at timestamp, at_tz timestamptz, t time, ttz timetz
);
INSERT INTO sales.orders VALUES
 (1, 2, -7, 12345678901234.5678, 0.1, 1e300, true, 'ab', 'first', '2024-05-01', '2024-05-01 10:00:00.5',
  '2024-05-01 12:00:00+02', '10:11:12', '10:11:12+02'),
 (2, NULL, NULL, -0.0001, 'NaN', '-Infinity', false, NULL, NULL, '0044-03-15 BC', NULL, NULL, NULL, NULL);
CREATE VIEW sales.big_orders AS SELECT id, price FROM sales.orders WHERE price > 10;
CREATE TABLE sales.secret (x int);
CREATE TABLE other.t (x int);
GRANT USAGE ON SCHEMA sales, other TO rs_reader;
GRANT SELECT ON sales.orders, sales.big_orders, other.t TO rs_reader;
"#;

/// Every statement `user` sent, from a `log_statement = 'all'` log (prefix `%m [%p] %u@%d`),
/// continuation lines included.
pub(crate) fn statements_of(log: &str, user: &str) -> Vec<String> {
    let mut statements: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let entry_start = |line: &str| line.len() > 4 && line[..4].bytes().all(|b| b.is_ascii_digit());
    for line in log.lines() {
        if entry_start(line) {
            statements.extend(current.take());
            let ours = line.contains(&format!("] {user}@"));
            let text = line
                .split_once("LOG:  statement: ")
                .or_else(|| line.split_once("LOG:  execute "));
            current = text.filter(|_| ours).map(|(_, sql)| sql.to_string());
        } else if let Some(sql) = current.as_mut() {
            sql.push('\n');
            sql.push_str(line);
        }
    }
    statements.extend(current);
    statements
}

#[tokio::test]
async fn redshift_dialect_explores_without_postgres_only_sql() {
    let user = User::new(USER, "rs-pw", Auth::Md5);
    let pg = PgServer::start(PgOptions {
        log_statements: true,
        users: vec![user],
        ..Default::default()
    });
    pg.create_database("dev");
    pg.psql("dev", FIXTURE);
    let client = connect(&pg, USER, "rs-pw", "dev").await;

    let listed = |entries: Vec<_>| {
        entries
            .iter()
            .map(entry_json)
            .map(|e| e["path"].clone())
            .collect::<Vec<_>>()
    };
    let sales = list_tables(&client, Some("sales")).await.unwrap();
    assert_eq!(entry_json(&sales[0])["meta"]["kind"], "view");
    assert_eq!(listed(sales), ["sales.big_orders", "sales.orders"]);
    let all = list_tables(&client, None).await.unwrap();
    assert_eq!(listed(all), ["other.t", "sales.big_orders", "sales.orders"]);
    assert!(list_tables(&client, Some("nothing")).await.unwrap().is_empty());

    let schema = describe(&client, &table("sales.orders")).await.unwrap();
    let simple = |name: &str, inlet: &str, xdm: &str, original: &str| json!({"name": name, "type": inlet, "xdm": {"type": xdm}, "meta": {"originalType": original}});
    let dated = |name: &str, format: &str, original: &str| {
        json!({"name": name, "type": "string", "meta:xdmType": format,
               "xdm": {"type": "string", "format": format}, "meta": {"originalType": original}})
    };
    let expected = vec![
        simple("id", "long", "integer", "bigint"),
        simple("qty", "integer", "integer", "smallint"),
        simple("n", "integer", "integer", "integer"),
        json!({"name": "price", "type": "decimal", "xdm": {"type": "number"},
               "meta": {"originalType": "numeric(18,4)", "precision": 18, "scale": 4}}),
        simple("ratio", "double", "number", "real"),
        simple("score", "double", "number", "double precision"),
        simple("paid", "boolean", "boolean", "boolean"),
        simple("code", "string", "string", "character(3)"),
        simple("note", "string", "string", "character varying(30)"),
        dated("day", "date", "date"),
        dated("at", "date-time", "timestamp without time zone"),
        dated("at_tz", "date-time", "timestamp with time zone"),
        simple("t", "string", "string", "time without time zone"),
        simple("ttz", "string", "string", "time with time zone"),
    ];
    assert_eq!(schema.columns.iter().map(column_json).collect::<Vec<_>>(), expected);
    assert_eq!((schema.columns[0].nullable, schema.columns[1].nullable), (false, true));

    let rows: Vec<Value> = preview(&client, &schema, 5)
        .await
        .unwrap()
        .into_iter()
        .map(Value::Object)
        .collect();
    // A real is read as double precision: a real 0.1 is exactly 0.100000001490116119384765625.
    let expected = vec![
        json!({"id": 1, "qty": 2, "n": -7, "price": "12345678901234.5678", "ratio": 0.10000000149011612, "score": 1e300,
               "paid": true, "code": "ab ", "note": "first", "day": "2024-05-01", "at": "2024-05-01T10:00:00.5",
               "at_tz": "2024-05-01T10:00:00Z", "t": "10:11:12", "ttz": "10:11:12+02"}),
        json!({"id": 2, "qty": null, "n": null, "price": "-0.0001", "ratio": "NaN", "score": "-Infinity",
               "paid": false, "code": null, "note": null, "day": "-0043-03-15", "at": null, "at_tz": null,
               "t": null, "ttz": null}),
    ];
    assert_eq!(rows, expected);

    for missing in [
        "sales.secret",
        "sales.nope",
        r#"sales."orders; DROP TABLE sales.orders""#,
    ] {
        let error = describe(&client, &table(missing)).await.unwrap_err();
        assert_eq!(error.kind, SourceErrorKind::TableNotFound, "{missing}: {error}");
    }

    let sent = statements_of(&pg.server_log(), USER);
    for needed in ["information_schema.tables", "information_schema.columns", "LIMIT 5"] {
        assert!(
            sent.iter().any(|s| s.contains(needed)),
            "no statement with {needed}: {sent:#?}"
        );
    }
    for statement in &sent {
        let lower = statement.to_lowercase();
        for forbidden in FORBIDDEN_IN_REDSHIFT {
            assert!(
                !lower.contains(&forbidden.to_lowercase()),
                "`{forbidden}` sent to Redshift: {statement}"
            );
        }
    }

    // Control: the PostgreSQL dialect's statements, logged the same way, are caught.
    inlet::sources::postgres::explore::describe(&client, &table("sales.orders"))
        .await
        .unwrap();
    let sent_after = statements_of(&pg.server_log(), USER);
    let caught = |s: &String| {
        FORBIDDEN_IN_REDSHIFT
            .iter()
            .any(|f| s.to_lowercase().contains(&f.to_lowercase()))
    };
    assert!(sent_after[sent.len()..].iter().any(caught), "{sent_after:#?}");
}
