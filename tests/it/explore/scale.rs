//! A catalog of 1,000 tables: every one is listed. The time is printed for the record,
//! not asserted (machines differ).

use super::{connect, reader};
use crate::common::pg::{PgOptions, PgServer};
use inlet::sources::{postgres, redshift};
use std::time::Instant;

const TABLES: usize = 1000;

#[tokio::test]
async fn a_thousand_tables_are_all_listed() {
    let pg = PgServer::start(PgOptions {
        users: vec![reader()],
        ..Default::default()
    });
    pg.create_database("big");
    let mut sql = String::from("CREATE SCHEMA many;\n");
    for i in 1..=TABLES {
        sql += &format!("CREATE TABLE many.t{i} (id int, name text);\n");
    }
    sql += "GRANT USAGE ON SCHEMA many TO reader;\nGRANT SELECT ON ALL TABLES IN SCHEMA many TO reader;\n";
    pg.psql("big", &sql);
    let client = connect(&pg, super::READER, super::READER_PASSWORD, "big").await;

    let started = Instant::now();
    let entries = postgres::explore::list_tables(&client).await.unwrap();
    let postgres_took = started.elapsed();
    let started = Instant::now();
    let redshift_entries = redshift::explore::list_tables(&client, Some("many")).await.unwrap();
    let redshift_took = started.elapsed();
    eprintln!(
        "explore: list_tables over {TABLES} tables took {postgres_took:?} (PostgreSQL catalog), \
         {redshift_took:?} (Redshift dialect, information_schema)"
    );

    for listed in [&entries, &redshift_entries] {
        let mut names: Vec<&str> = listed
            .iter()
            .filter(|e| e.table.schema == "many")
            .map(|e| e.table.table.as_str())
            .collect();
        names.sort_unstable();
        let mut expected: Vec<String> = (1..=TABLES).map(|i| format!("t{i}")).collect();
        expected.sort_unstable();
        assert_eq!(names, expected);
    }
}
