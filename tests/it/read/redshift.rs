//! The Redshift read path (a cursor fetched forward in bounded steps, text values) against
//! a PostgreSQL server standing in for Redshift: the same exact Arrow values, several
//! FETCHes, a window, a loud failure, and from the statement log, nothing Redshift lacks.

use super::{column, config, days, micros, primitive, read_all, strings};
use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::explore::redshift::statements_of;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use inlet::sources::SourceErrorKind;
use inlet::sources::connect::ConnectOptions;
use inlet::sources::read::{ReadRequest, WindowFilter};
use inlet::sources::redshift::explore::FORBIDDEN_IN_REDSHIFT;
use inlet::sources::source::open;
use inlet::specs::SourceKind;

const USER: &str = "rs_reader";
const PASSWORD: &str = "rs-pw";
const ROWS: i64 = 2502;

/// Redshift's own types only.
const FIXTURE: &str = r#"
CREATE SCHEMA sales;
CREATE TABLE sales.orders (
    id bigint NOT NULL, qty smallint, n integer, price numeric(18,4), ratio real, score double precision,
    paid boolean, code char(3), note varchar(30), day date, at timestamp, at_tz timestamptz, t time, ttz timetz
);
INSERT INTO sales.orders VALUES
 (1, 2, -7, 12345678901234.5678, 0.1, 1e300, true, 'ab', 'first', '2024-05-01', '2024-05-01 10:00:00.5',
  '2024-05-01 12:00:00+02', '10:11:12', '10:11:12+02'),
 (2, NULL, NULL, -0.0001, 'NaN', '-Infinity', false, NULL, NULL, '0001-01-01', '2024-05-01 10:00:00.000001',
  NULL, NULL, NULL);
INSERT INTO sales.orders (id, score, at_tz)
  SELECT g, g::float8 / 3, '2024-05-01 00:00:00+00'::timestamptz + g * interval '1 microsecond'
  FROM generate_series(3, 2502) g;
CREATE TABLE sales.bad (d date);
INSERT INTO sales.bad VALUES ('2024-05-01'), ('0044-03-15 BC');
GRANT USAGE ON SCHEMA sales TO rs_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA sales TO rs_reader;
"#;

fn first_two<T: Clone>(values: Vec<T>) -> Vec<T> {
    values[..2].to_vec()
}

fn orders() -> ReadRequest {
    ReadRequest {
        batch_rows: 700,
        ..super::request("sales.orders")
    }
}

#[tokio::test]
async fn redshift_reads_exact_values_through_a_cursor_without_postgres_only_sql() {
    let pg = PgServer::start(PgOptions {
        log_statements: true,
        users: vec![User::new(USER, PASSWORD, Auth::Md5)],
        ..Default::default()
    });
    pg.create_database("dev");
    pg.psql("dev", FIXTURE);
    let source = open(
        config(&pg, SourceKind::Redshift, USER, PASSWORD, "dev"),
        ConnectOptions::default(),
    );

    let b = read_all(source.as_ref(), &orders()).await.unwrap();
    assert_eq!(b.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [700, 700, 700, 402]);
    let ids: Vec<i64> = column(&b, "id", primitive::<Int64Type>)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(ids, (1..=ROWS).collect::<Vec<_>>());
    let s = |v: &str| Some(v.to_string());
    assert_eq!(first_two(column(&b, "qty", primitive::<Int32Type>)), [Some(2), None]);
    assert_eq!(first_two(column(&b, "n", primitive::<Int32Type>)), [Some(-7), None]);
    assert_eq!(
        first_two(column(&b, "price", primitive::<Decimal128Type>)),
        [Some(123456789012345678), Some(-1)]
    );
    let ratio = column(&b, "ratio", primitive::<Float64Type>);
    assert_eq!(ratio[0], Some(f64::from(0.1f32)));
    assert!(ratio[1].unwrap().is_nan());
    let score = column(&b, "score", primitive::<Float64Type>);
    assert_eq!(score[..2], [Some(1e300), Some(f64::NEG_INFINITY)]);
    assert!(
        (2..ROWS as usize).all(|i| score[i] == Some((i + 1) as f64 / 3.0)),
        "a double changed"
    );
    let paid: Vec<Option<bool>> = column(&b, "paid", |a| a.as_boolean().iter().collect());
    assert_eq!(paid[..2], [Some(true), Some(false)]);
    assert_eq!(first_two(column(&b, "code", strings)), [s("ab "), None]);
    assert_eq!(first_two(column(&b, "note", strings)), [s("first"), None]);
    let day = column(&b, "day", primitive::<Date32Type>);
    assert_eq!(day[..2], [Some(days("2024-05-01")), Some(days("0001-01-01"))]);
    let at = column(&b, "at", primitive::<TimestampMicrosecondType>);
    assert_eq!(
        at[..2],
        [
            Some(micros("2024-05-01T10:00:00.5Z")),
            Some(micros("2024-05-01T10:00:00.000001Z"))
        ]
    );
    let at_tz = column(&b, "at_tz", primitive::<TimestampMicrosecondType>);
    assert_eq!(at_tz[..2], [Some(micros("2024-05-01T10:00:00Z")), None]);
    assert_eq!(at_tz[ROWS as usize - 1], Some(micros("2024-05-01T00:00:00Z") + ROWS));
    assert_eq!(first_two(column(&b, "t", strings)), [s("10:11:12"), None]);
    assert_eq!(first_two(column(&b, "ttz", strings)), [s("10:11:12+02"), None]);

    let window = ReadRequest {
        window: Some(WindowFilter {
            column: "at_tz".into(),
            start: Some(micros("2024-05-01T00:00:00.0001Z")),
            end: Some(micros("2024-05-01T00:00:00.0002Z")),
            timezone: "UTC".into(),
        }),
        ..orders()
    };
    let b = read_all(source.as_ref(), &window).await.unwrap();
    let ids: Vec<i64> = column(&b, "id", primitive::<Int64Type>)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(ids, (100..200).collect::<Vec<_>>());

    let error = read_all(source.as_ref(), &super::request("sales.bad"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::Unsupported, "{error}");
    assert!(
        error
            .message
            .starts_with("sales.bad.d holds 0044-03-15 BC, which is outside"),
        "{error}"
    );

    let sent = statements_of(&pg.server_log(), USER);
    for needed in [
        "DECLARE inlet_read CURSOR FOR SELECT",
        "FETCH FORWARD 700 FROM inlet_read",
        "CLOSE inlet_read",
    ] {
        assert!(
            sent.iter().any(|s| s.contains(needed)),
            "no statement with {needed}: {sent:#?}"
        );
    }
    for statement in &sent {
        let lower = statement.to_lowercase();
        for forbidden in FORBIDDEN_IN_REDSHIFT.iter().chain(&["copy", "ctid"]) {
            assert!(
                !lower.contains(&forbidden.to_lowercase()),
                "`{forbidden}` sent to Redshift: {statement}"
            );
        }
    }
}
