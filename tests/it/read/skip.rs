//! Skipping rows whose values no lake column can hold (`BadValue::Skip`): exactly the good
//! rows come out, the skipped ones are counted and described (table, column, value, and
//! the row: its primary key, else its position and ctid), in one stream, in several
//! partitions, for text that is not UTF-8, and on the Redshift path. With `Fail` the same
//! tables still fail naming table, column and value.

use std::collections::BTreeMap;

use super::{column, config, days, lists, postgres, primitive, read_all, request};
use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::explore::redshift::statements_of;
use arrow_array::types::{Date32Type, Decimal128Type, Int32Type, Int64Type};
use inlet::sources::SourceErrorKind;
use inlet::sources::connect::ConnectOptions;
use inlet::sources::read::{BadValue, ReadRequest, SkippedRow};
use inlet::sources::redshift::explore::FORBIDDEN_IN_REDSHIFT;
use inlet::sources::source::{Source, open};
use inlet::specs::SourceKind;

const MIXED: &str = r#"
CREATE TABLE mixed (id int PRIMARY KEY, amount numeric(12,2), n numeric, d date, ts timestamptz,
                    ia int[], note text);
INSERT INTO mixed SELECT g, g * 1.5, g, '2024-01-01'::date + g,
    '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 hour', ARRAY[g, g + 1], 'row ' || g
  FROM generate_series(1, 30) g;
UPDATE mixed SET amount = 'NaN' WHERE id = 3;
UPDATE mixed SET n = 'Infinity' WHERE id = 7;
UPDATE mixed SET n = '0.1234567890123456789' WHERE id = 11;
UPDATE mixed SET d = 'infinity' WHERE id = 13;
UPDATE mixed SET d = '0044-03-15 BC' WHERE id = 17;
UPDATE mixed SET ts = '-infinity' WHERE id = 19;
UPDATE mixed SET ia = '{{1,2},{3,4}}' WHERE id = 23;
UPDATE mixed SET amount = 'NaN', d = 'infinity' WHERE id = 29;
"#;

/// The bad rows of `mixed`: id → (column, value as the source writes it).
fn bad_rows() -> BTreeMap<String, (&'static str, &'static str)> {
    [
        (3, ("amount", "NaN")),
        (7, ("n", "Infinity")),
        (11, ("n", "0.1234567890123456789")),
        (13, ("d", "infinity")),
        (17, ("d", "0044-03-15 BC")),
        (19, ("ts", "-infinity")),
        (23, ("ia", "a 2-dimensional array")),
        (29, ("amount", "NaN")),
    ]
    .into_iter()
    .map(|(id, bad)| (id.to_string(), bad))
    .collect()
}

fn skipping(table: &str) -> ReadRequest {
    ReadRequest {
        on_bad_value: BadValue::Skip,
        ..request(table)
    }
}

/// Reads `request` to the end; answers the batches' rows, the failed count and the
/// skipped rows described.
async fn read_skipping(
    source: &dyn Source,
    request: &ReadRequest,
) -> (Vec<arrow_array::RecordBatch>, u64, Vec<SkippedRow>) {
    let stream = source.read(request).await.unwrap();
    let progress = stream.progress.clone();
    let batches = super::collect(stream).await.unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(progress.rows(), rows as u64, "rows() counts the rows handed over");
    (batches, progress.failed_rows(), progress.skipped_rows())
}

/// Each skipped row by its primary key's `id`: (column, value, message).
fn by_key(skipped: &[SkippedRow]) -> BTreeMap<String, (String, String, String)> {
    skipped
        .iter()
        .map(|row| {
            assert_eq!(row.row.key.len(), 1, "{row:?}");
            assert_eq!(row.row.key[0].0, "id");
            let found = (row.column.clone(), row.value.clone(), row.message.clone());
            (row.row.key[0].1.clone(), found)
        })
        .collect()
}

#[tokio::test]
async fn skipping_keeps_exactly_the_good_rows_and_names_the_bad_ones_by_key() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("shop");
    pg.psql("shop", MIXED);
    let source = postgres(&pg, "shop");
    let bad = bad_rows();

    let (batches, failed, skipped) = read_skipping(source.as_ref(), &skipping("mixed")).await;
    let mut ids: Vec<i32> = column(&batches, "id", primitive::<Int32Type>)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    ids.sort_unstable();
    let good: Vec<i32> = (1..=30).filter(|id| !bad.contains_key(&id.to_string())).collect();
    assert_eq!(ids, good);
    assert_eq!(failed, 8);
    let found = by_key(&skipped);
    assert_eq!(found.keys().collect::<Vec<_>>(), bad.keys().collect::<Vec<_>>());
    for (id, (column, value)) in &bad {
        let (found_column, found_value, message) = &found[id];
        assert_eq!(
            (found_column.as_str(), found_value.as_str()),
            (*column, *value),
            "row {id}"
        );
        let expected = format!("public.mixed.{column} holds {value}, which");
        assert!(message.starts_with(&expected), "row {id}: {message}");
        assert!(skipped.iter().all(|row| row.table == "public.mixed"));
    }
    // The rows left are whole and in line: no placeholder, no shifted list.
    let row_ids = column(&batches, "id", primitive::<Int32Type>);
    let amounts = column(&batches, "amount", primitive::<Decimal128Type>);
    let dates = column(&batches, "d", primitive::<Date32Type>);
    let arrays = column(&batches, "ia", |a| lists(a, primitive::<Int32Type>));
    for (i, id) in row_ids.iter().map(|id| id.unwrap()).enumerate() {
        assert_eq!(amounts[i], Some(i128::from(id) * 150), "row {id}");
        assert_eq!(dates[i], Some(days("2024-01-01") + id), "row {id}");
        assert_eq!(arrays[i], Some(vec![Some(id), Some(id + 1)]), "row {id}");
    }

    // The key names the row even when its columns are not read.
    let only_amount = ReadRequest {
        columns: Some(vec!["amount".into()]),
        ..skipping("mixed")
    };
    let (batches, failed, skipped) = read_skipping(source.as_ref(), &only_amount).await;
    assert_eq!(batches[0].num_columns(), 1);
    assert_eq!(
        (column(&batches, "amount", primitive::<Decimal128Type>).len(), failed),
        (28, 2)
    );
    assert_eq!(by_key(&skipped).keys().collect::<Vec<_>>(), ["29", "3"]);

    // Failing stays the default, naming table, column and value.
    let error = read_all(source.as_ref(), &request("mixed")).await.unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::Unsupported, "{error}");
    let named = bad.values().any(|(column, value)| {
        error
            .message
            .starts_with(&format!("public.mixed.{column} holds {value}, which"))
    });
    assert!(named, "{error}");
}

#[tokio::test]
async fn rows_without_a_key_are_named_by_partition_position_and_ctid() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE heap (g int8 NOT NULL, pad text NOT NULL, d date);
         INSERT INTO heap SELECT g, repeat(md5(g::text), 4),
             CASE WHEN g IN (5, 79995) THEN 'infinity'::date ELSE '2024-01-01' END
           FROM generate_series(1, 80000) g;",
    );
    let source = postgres(&pg, "shop");
    let request = ReadRequest {
        partitions: 2,
        batch_rows: 4096,
        ..skipping("heap")
    };
    let (batches, failed, mut skipped) = read_skipping(source.as_ref(), &request).await;
    let mut ids: Vec<i64> = column(&batches, "g", primitive::<Int64Type>)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids.len(), 79_998);
    assert!(!ids.contains(&5) && !ids.contains(&79_995));
    assert_eq!(failed, 2);
    skipped.sort_by_key(|row| row.row.partition);
    let ctid = |g: i64| pg.psql("shop", &format!("SELECT ctid FROM heap WHERE g = {g}"));
    let first = &skipped[0];
    assert_eq!((first.row.partition, first.row.ordinal), (0, 5), "{first:?}");
    assert_eq!(first.row.ctid.as_deref(), Some(ctid(5).as_str()));
    assert!(first.row.key.is_empty());
    assert_eq!((first.column.as_str(), first.value.as_str()), ("d", "infinity"));
    let last = &skipped[1];
    assert_eq!(last.row.partition, 1, "the table is read in two partitions: {last:?}");
    assert_eq!(last.row.ctid.as_deref(), Some(ctid(79_995).as_str()));
    assert!(
        last.to_string()
            .starts_with("public.heap.d holds infinity, which a date column cannot hold (row ")
    );
}

#[tokio::test]
async fn text_that_is_not_utf8_is_skipped_or_fails_naming_it() {
    let pg = PgServer::start(PgOptions::default());
    pg.psql(
        "postgres",
        "CREATE DATABASE ascii ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'",
    );
    pg.psql(
        "ascii",
        r"CREATE TABLE words (id int PRIMARY KEY, w text);
          INSERT INTO words VALUES (1, 'plain'), (2, E'caf\xe9'), (3, 'also plain');",
    );
    let source = postgres(&pg, "ascii");
    let error = read_all(source.as_ref(), &request("words")).await.unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::Unsupported, "{error}");
    assert_eq!(
        error.message,
        r"public.words.w holds caf\xe9, which a string column cannot hold: it is not UTF-8"
    );
    let (batches, failed, skipped) = read_skipping(source.as_ref(), &skipping("words")).await;
    let ids: Vec<Option<i32>> = column(&batches, "id", primitive::<Int32Type>);
    assert_eq!((ids, failed), (vec![Some(1), Some(3)], 1));
    assert_eq!(skipped[0].row.key, [("id".to_string(), "2".to_string())]);
    assert_eq!(skipped[0].value, r"caf\xe9");
}

#[tokio::test]
async fn redshift_skips_rows_by_their_declared_key_without_postgres_only_sql() {
    let pg = PgServer::start(PgOptions {
        log_statements: true,
        users: vec![User::new("rs_reader", "rs-pw", Auth::Md5)],
        ..Default::default()
    });
    pg.create_database("dev");
    pg.psql(
        "dev",
        "CREATE SCHEMA sales;
         CREATE TABLE sales.events (id bigint PRIMARY KEY, day date, amount numeric(6,2));
         INSERT INTO sales.events VALUES (1, '2024-05-01', 1), (2, '0044-03-15 BC', 2), (3, NULL, 3),
             (4, '2024-05-04', 'NaN'), (5, '2024-05-05', 5);
         GRANT USAGE ON SCHEMA sales TO rs_reader;
         GRANT SELECT ON ALL TABLES IN SCHEMA sales TO rs_reader;",
    );
    let source = open(
        config(&pg, SourceKind::Redshift, "rs_reader", "rs-pw", "dev"),
        ConnectOptions::default(),
    );
    let request = ReadRequest {
        batch_rows: 2,
        ..skipping("sales.events")
    };
    let (batches, failed, skipped) = read_skipping(source.as_ref(), &request).await;
    let ids: Vec<Option<i64>> = column(&batches, "id", primitive::<Int64Type>);
    assert_eq!(ids, [Some(1), Some(3), Some(5)]);
    let days_read = column(&batches, "day", primitive::<Date32Type>);
    assert_eq!(days_read, [Some(days("2024-05-01")), None, Some(days("2024-05-05"))]);
    assert_eq!(failed, 2);
    let found = by_key(&skipped);
    assert_eq!(found["2"].0, "day");
    assert_eq!(found["2"].1, "0044-03-15 BC");
    assert_eq!(
        found["4"].2,
        "sales.events.amount holds NaN, which a decimal column cannot hold"
    );
    assert_eq!(skipped.iter().map(|row| row.row.ordinal).collect::<Vec<_>>(), [2, 4]);

    let error = read_all(source.as_ref(), &super::request("sales.events"))
        .await
        .unwrap_err();
    assert!(
        error.message.starts_with("sales.events.day holds 0044-03-15 BC"),
        "{error}"
    );
    for statement in statements_of(&pg.server_log(), "rs_reader") {
        let lower = statement.to_lowercase();
        for forbidden in FORBIDDEN_IN_REDSHIFT.iter().chain(&["copy", "ctid", "format("]) {
            assert!(
                !lower.contains(&forbidden.to_lowercase()),
                "`{forbidden}` sent to Redshift: {statement}"
            );
        }
    }
}
