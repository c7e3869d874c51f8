//! Window filters: `[start, end)` on the full microsecond value. Rows at exactly `start` are
//! in, rows at exactly `end` out; 500 rows sharing the boundary instant all land in the
//! window that starts there; a `timestamp without time zone` column is compared in the
//! window's time zone, a `date` column by the bound's date in it.

use super::{column, micros, postgres, primitive, read_all, request};
use crate::common::pg::{PgOptions, PgServer};
use arrow_array::types::Int32Type;
use inlet::sources::read::{ReadRequest, WindowFilter};
use inlet::sources::source::Source;

const START: &str = "2024-05-01T10:00:00.123456Z";
const END: &str = "2024-05-02T10:00:01Z";

/// Ids 1..=500 stand exactly at START; the others a microsecond around START and END.
/// `local` is each instant's wall time in Paris (UTC+2 in May), `day` its Paris date.
const FIXTURE: &str = "
CREATE TABLE ev (id int, at timestamptz, local timestamp, day date);
INSERT INTO ev SELECT g, '2024-05-01 10:00:00.123456+00' FROM generate_series(1, 500) g;
INSERT INTO ev VALUES (1001, '2024-05-01 10:00:00.123455+00'), (1002, '2024-05-01 10:00:00.123457+00'),
    (1003, '2024-05-02 10:00:00.999999+00'), (1004, '2024-05-02 10:00:01+00'),
    (1005, '2024-05-02 10:00:01.000001+00'), (1006, '2024-05-01 21:59:59.999999+00'),
    (1007, '2024-05-01 22:00:00+00');
UPDATE ev SET local = at AT TIME ZONE 'Europe/Paris', day = (at AT TIME ZONE 'Europe/Paris')::date;";

/// The ids in the window `[start, end)` on `column`, compared in `timezone`.
async fn ids(
    source: &dyn Source,
    column_name: &str,
    start: Option<&str>,
    end: Option<&str>,
    timezone: &str,
) -> Vec<i32> {
    let request = ReadRequest {
        columns: Some(vec!["id".into()]),
        window: Some(WindowFilter {
            column: column_name.into(),
            start: start.map(micros),
            end: end.map(micros),
            timezone: timezone.into(),
        }),
        ..request("ev")
    };
    let batches = read_all(source, &request).await.unwrap();
    let mut ids: Vec<i32> = column(&batches, "id", primitive::<Int32Type>)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    ids.sort_unstable();
    ids
}

fn boundary_rows_and(others: &[i32]) -> Vec<i32> {
    (1..=500).chain(others.iter().copied()).collect()
}

#[tokio::test]
async fn windows_are_half_open_to_the_microsecond() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("shop");
    pg.psql("shop", FIXTURE);
    let source = postgres(&pg, "shop");
    let source = source.as_ref();

    let inside = boundary_rows_and(&[1002, 1003, 1006, 1007]);
    assert_eq!(ids(source, "at", Some(START), Some(END), "UTC").await, inside);
    assert_eq!(ids(source, "at", None, Some(START), "UTC").await, [1001]);
    assert_eq!(ids(source, "at", Some(END), None, "UTC").await, [1004, 1005]);
    let one_micro = "2024-05-01T10:00:00.123457Z";
    assert_eq!(
        ids(source, "at", Some(START), Some(one_micro), "UTC").await,
        boundary_rows_and(&[])
    );
    // The zone of a timestamptz window changes nothing: the bounds are instants.
    assert_eq!(ids(source, "at", Some(START), Some(END), "Asia/Tokyo").await, inside);

    // Wall times in Paris, compared in Paris: the same rows as the instants.
    assert_eq!(
        ids(source, "local", Some(START), Some(END), "Europe/Paris").await,
        inside
    );
    assert_eq!(
        ids(source, "local", Some(START), Some(one_micro), "Europe/Paris").await,
        boundary_rows_and(&[])
    );
    // Compared as UTC wall times instead, the boundary rows (12:00 in Paris) are later.
    assert!(
        ids(source, "local", Some(START), Some(one_micro), "UTC")
            .await
            .is_empty()
    );

    // Paris dates: 1006 is 2024-05-01 23:59:59.999999, 1007 is 2024-05-02 00:00 there.
    let day_one = boundary_rows_and(&[1001, 1002, 1006]);
    assert_eq!(
        ids(source, "day", Some(START), Some(END), "Europe/Paris").await,
        day_one
    );
    assert_eq!(
        ids(source, "day", Some(END), None, "Europe/Paris").await,
        [1003, 1004, 1005, 1007]
    );
}
