//! The [`Source`] trait and its two implementations. Each call opens a session with the
//! connection's TLS mode, does its work and closes it, so no connection outlives a request
//! and nothing ties a source to one Inlet process.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::config::SourceConfig;
use super::connect::{ConnectOptions, SourceSession, connect};
use super::schema::{TableEntry, TableSchema};
use super::{SourceError, TableRef, postgres, redshift};
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
}
