//! The [`Source`] trait and its two implementations. Each call opens a session with the
//! connection's TLS mode, does its work and closes it, so no connection outlives a request
//! and nothing ties a source to one Inlet process.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::changes::ChangeFeed;
use super::config::SourceConfig;
use super::connect::{ConnectOptions, SourceSession, connect};
use super::read::{ReadRequest, ReadStream};
use super::schema::{TableEntry, TableSchema};
use super::{SourceError, SourceErrorKind, TableRef, postgres, redshift};
use crate::specs::SourceKind;

/// One row of a preview: column name to exact JSON value.
pub type PreviewRow = Map<String, Value>;

/// A source database Inlet can test, explore and read.
#[async_trait]
pub trait Source: Send + Sync {
    /// Connects, authenticates and runs a trivial query.
    async fn test(&self) -> Result<(), SourceError>;
    /// Every table and view the user may read, system schemas excluded.
    async fn list_tables(&self) -> Result<Vec<TableEntry>, SourceError>;
    /// The columns of `table` with their types.
    async fn describe(&self, table: &TableRef) -> Result<TableSchema, SourceError>;
    /// The columns of `table` and up to `limit` of its rows.
    async fn preview(&self, table: &TableRef, limit: usize) -> Result<(TableSchema, Vec<PreviewRow>), SourceError>;
    /// The source's current time (`statement_timestamp()`), in microseconds since the
    /// epoch: window bounds are taken from the source's clock, not Inlet's.
    async fn clock(&self) -> Result<i64, SourceError>;
    /// Starts reading `request`: the table's rows as a stream of Arrow record batches,
    /// exactly (a value that cannot be represented fails the stream with
    /// [`SourceErrorKind::Unsupported`] naming the table, column and value). The
    /// partitions of a PostgreSQL read share one snapshot, taken before this returns;
    /// rows are read as the stream is polled. See docs/reading.md.
    async fn read(&self, request: &ReadRequest) -> Result<ReadStream, SourceError>;
    /// The columns of `table`'s primary key, in key order; empty when it has none.
    async fn key(&self, table: &TableRef) -> Result<Vec<String>, SourceError>;
    /// The source's change feed, when it has a change log Inlet can read.
    fn change_feed(&self) -> Option<Box<dyn ChangeFeed>> {
        None
    }
}

/// The source for `config`, by its kind.
pub fn open(config: SourceConfig, options: ConnectOptions) -> Box<dyn Source> {
    match config.kind {
        SourceKind::Postgres => Box::new(PostgresSource { config, options }),
        SourceKind::Redshift => Box::new(RedshiftSource { config, options }),
    }
}

/// A PostgreSQL database.
pub struct PostgresSource {
    config: SourceConfig,
    options: ConnectOptions,
}

/// An Amazon Redshift cluster (PostgreSQL's wire protocol, Redshift's SQL dialect).
pub struct RedshiftSource {
    config: SourceConfig,
    options: ConnectOptions,
}

/// Runs `sql`, which answers one timestamp in UTC, and reads it as epoch microseconds.
async fn read_clock(session: &SourceSession, sql: &str) -> Result<i64, SourceError> {
    let messages = session
        .client()
        .simple_query(sql)
        .await
        .map_err(|e| SourceError::from_query(&e, "reading the source's clock"))?;
    let text = messages
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_default();
    parse_utc_timestamp(&text).ok_or_else(|| {
        SourceError::new(
            SourceErrorKind::QueryFailed,
            format!("the source's clock answered `{text}`, not a timestamp"),
        )
    })
}

/// `2024-05-01 10:00:00.123456` with an optional `+00` suffix, as epoch microseconds.
fn parse_utc_timestamp(text: &str) -> Option<i64> {
    let naive = text.trim().trim_end_matches("+00");
    let parsed = chrono::NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    Some(parsed.and_utc().timestamp_micros())
}

async fn ping(session: &SourceSession) -> Result<(), SourceError> {
    session
        .client()
        .simple_query("SELECT 1")
        .await
        .map_err(|e| SourceError::from_query(&e, "the test query"))?;
    Ok(())
}

#[async_trait]
impl Source for PostgresSource {
    async fn test(&self) -> Result<(), SourceError> {
        ping(&connect(&self.config, &self.options).await?).await
    }

    async fn list_tables(&self) -> Result<Vec<TableEntry>, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        postgres::explore::list_tables(session.client()).await
    }

    async fn describe(&self, table: &TableRef) -> Result<TableSchema, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        postgres::explore::describe(session.client(), table).await
    }

    async fn preview(&self, table: &TableRef, limit: usize) -> Result<(TableSchema, Vec<PreviewRow>), SourceError> {
        let session = connect(&self.config, &self.options).await?;
        let schema = postgres::explore::describe(session.client(), table).await?;
        let rows = postgres::explore::preview(session.client(), &schema, limit).await?;
        Ok((schema, rows))
    }

    async fn clock(&self) -> Result<i64, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        read_clock(&session, "SET TimeZone TO 'UTC'; SELECT statement_timestamp()").await
    }

    async fn read(&self, request: &ReadRequest) -> Result<ReadStream, SourceError> {
        postgres::read::read(&self.config, &self.options, request, postgres::partition::Split::Auto).await
    }

    async fn key(&self, table: &TableRef) -> Result<Vec<String>, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        postgres::cdc::key_columns(session.client(), table).await
    }

    fn change_feed(&self) -> Option<Box<dyn ChangeFeed>> {
        Some(Box::new(postgres::cdc::Feed::new(
            self.config.clone(),
            self.options.clone(),
        )))
    }
}

#[async_trait]
impl Source for RedshiftSource {
    async fn test(&self) -> Result<(), SourceError> {
        ping(&connect(&self.config, &self.options).await?).await
    }

    async fn list_tables(&self) -> Result<Vec<TableEntry>, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        redshift::explore::list_tables(session.client(), self.config.schema.as_deref()).await
    }

    async fn describe(&self, table: &TableRef) -> Result<TableSchema, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        redshift::explore::describe(session.client(), table).await
    }

    async fn preview(&self, table: &TableRef, limit: usize) -> Result<(TableSchema, Vec<PreviewRow>), SourceError> {
        let session = connect(&self.config, &self.options).await?;
        let schema = redshift::explore::describe(session.client(), table).await?;
        let rows = redshift::explore::preview(session.client(), &schema, limit).await?;
        Ok((schema, rows))
    }

    async fn clock(&self) -> Result<i64, SourceError> {
        // Redshift has no statement_timestamp(); the 'now' literal is the start of the
        // statement's own transaction, in microseconds, on Redshift and PostgreSQL alike.
        let session = connect(&self.config, &self.options).await?;
        read_clock(&session, "SET timezone TO 'UTC'; SELECT CAST('now' AS TIMESTAMP)").await
    }

    async fn read(&self, request: &ReadRequest) -> Result<ReadStream, SourceError> {
        redshift::read::read(&self.config, &self.options, request).await
    }

    async fn key(&self, table: &TableRef) -> Result<Vec<String>, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        redshift::explore::primary_key(session.client(), table).await
    }
}

#[cfg(test)]
mod tests {
    use super::parse_utc_timestamp;

    #[test]
    fn clock_answers_parse_as_utc_microseconds() {
        assert_eq!(parse_utc_timestamp("1970-01-01 00:00:01.5+00"), Some(1_500_000));
        assert_eq!(parse_utc_timestamp("1970-01-01 00:00:02"), Some(2_000_000));
        assert_eq!(parse_utc_timestamp("soon"), None);
    }
}
