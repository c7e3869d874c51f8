//! `Source::read` against real PostgreSQL servers: every common type read exactly into
//! Arrow (and the values that must fail, failing loudly); partitions that read every row
//! once in one snapshot, in parallel; window filters at their exact bounds; the Redshift
//! dialect against a PostgreSQL standing in for Redshift; bounded memory under a slow
//! consumer; and (ignored by default) a throughput figure.

mod bench;
mod partitions;
mod redshift;
mod skip;
mod types;
mod window;

use crate::common::pg::PgServer;
use arrow_array::cast::AsArray;
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{Array, RecordBatch};
use futures::TryStreamExt;
use inlet::secret::Secret;
use inlet::sources::config::SourceConfig;
use inlet::sources::connect::ConnectOptions;
use inlet::sources::read::{BadValue, ReadRequest, ReadStream};
use inlet::sources::source::{Source, open};
use inlet::sources::ssl_mode::SslMode;
use inlet::sources::{SourceError, TableRef};
use inlet::specs::SourceKind;

/// The config of `database` on `pg` as `user`, without TLS.
pub fn config(pg: &PgServer, kind: SourceKind, user: &str, password: &str, database: &str) -> SourceConfig {
    SourceConfig {
        kind,
        host: pg.host().to_string(),
        port: pg.port(),
        database: database.to_string(),
        user: user.to_string(),
        password: Secret::new(password),
        ssl_mode: SslMode::Disable,
        root_cert: None,
        tls_server_name: None,
        schema: None,
    }
}

/// The superuser's PostgreSQL source for `database`.
pub fn postgres(pg: &PgServer, database: &str) -> Box<dyn Source> {
    let (user, password) = pg.superuser();
    open(
        config(pg, SourceKind::Postgres, user, password, database),
        ConnectOptions::default(),
    )
}

/// A whole-table read of `table` in one partition.
pub fn request(table: &str) -> ReadRequest {
    ReadRequest {
        table: TableRef::parse(table, "public").expect("a valid table name"),
        columns: None,
        window: None,
        partitions: 1,
        batch_rows: 1024,
        channel_depth: 2,
        on_bad_value: BadValue::Fail,
    }
}

/// Every batch of the stream, or its error.
pub async fn collect(stream: ReadStream) -> Result<Vec<RecordBatch>, SourceError> {
    let schema = stream.schema.clone();
    let batches: Vec<RecordBatch> = stream.batches.try_collect().await?;
    assert!(
        batches.iter().all(|b| b.schema() == schema),
        "a batch has another schema"
    );
    Ok(batches)
}

/// Reads `request` to the end.
pub async fn read_all(source: &dyn Source, request: &ReadRequest) -> Result<Vec<RecordBatch>, SourceError> {
    collect(source.read(request).await?).await
}

/// The column `name` of every batch, each converted by `convert`, concatenated.
pub fn column<T>(batches: &[RecordBatch], name: &str, convert: impl Fn(&dyn Array) -> Vec<T>) -> Vec<T> {
    let mut out = Vec::new();
    for batch in batches {
        let array = batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
        out.extend(convert(array.as_ref()));
    }
    out
}

/// A primitive array's values, NULL as `None`.
pub fn primitive<T: ArrowPrimitiveType>(array: &dyn Array) -> Vec<Option<T::Native>> {
    array.as_primitive::<T>().iter().collect()
}

/// A string array's values.
pub fn strings(array: &dyn Array) -> Vec<Option<String>> {
    array.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
}

/// A binary array's values.
pub fn binaries(array: &dyn Array) -> Vec<Option<Vec<u8>>> {
    array.as_binary::<i32>().iter().map(|b| b.map(<[u8]>::to_vec)).collect()
}

/// A list array's values, each list converted by `element`.
pub fn lists<T>(array: &dyn Array, element: impl Fn(&dyn Array) -> Vec<T>) -> Vec<Option<Vec<T>>> {
    let list = array.as_list::<i32>();
    list.iter()
        .map(|item| item.map(|values| element(values.as_ref())))
        .collect()
}

/// Microseconds since 1970 of an RFC 3339 instant.
pub fn micros(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("an RFC 3339 instant")
        .timestamp_micros()
}

/// Days since 1970 of `YYYY-MM-DD`.
pub fn days(date: &str) -> i32 {
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("a date");
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}
