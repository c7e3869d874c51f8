//! The metadata store: every SQL statement Inlet runs against its own database lives in
//! this module. One interface, two backends (SQLite by default, PostgreSQL when
//! `--metadata-url postgres://...` is given), both reached through sqlx's `Any` driver with
//! portable SQL (`$1` placeholders work on both).

mod alert_rate;
mod alert_watch;
mod alerts;
mod captures;
mod claims;
mod fields;
mod followers;
mod lists;
mod maintenance;
mod migrations;
mod resources;
mod retention;
mod run_record;
mod runs;
mod slots;
mod tenants;

pub use alert_watch::{Landed, LateFlow, StaleFlow};
pub use alerts::{AttemptEnd, ClaimedDelivery, DeliveryRow, DeliveryStatus, PendingEvent};
pub use claims::{Lease, WallTimes};
pub use lists::{FieldFilter, FieldTest, OffsetPage, Page, RUN_FIELDS, SortBy, SortValue};
pub use maintenance::LastMaintenance;
pub use resources::{ResourceRow, UnreadableRow, Update};
pub use retention::PrunedRun;
pub use run_record::{
    CdcMode, CdcSummary, DurationSummary, FileSummary, OnDemandParams, RecordSummary, RunDetails, RunError, RunMetrics,
    RunStatus, SizeSummary, StatusSummary, StoredDeltaColumn,
};
pub use runs::{LastWindow, RunRow};
pub use slots::SlotLease;
pub use tenants::{ApiClient, SandboxRow};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::secret::Secret;

/// Which database holds the metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the data directory: the embedded default.
    Sqlite,
    /// A PostgreSQL database shared by any number of Inlet processes.
    Postgres,
}

/// A failure of the metadata store. Its text never carries the database URL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same key exists already.
    #[error("already exists")]
    Conflict,
    /// The database failed; the source error is kept for logs.
    #[error("metadata store error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored document could not be read back.
    #[error("stored document is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// A stored value is not one Inlet writes.
    #[error("stored value is not valid: {0}")]
    Invalid(String),
}

/// Handle to the metadata database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens the SQLite store at `<data_dir>/metadata.db`, creating it if needed.
    pub async fn open_sqlite(data_dir: &Path) -> anyhow::Result<Store> {
        let path = data_dir.join("metadata.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Store::connect(&Secret::new(url)).await
    }

    /// Connects to `url` (`sqlite://...` or `postgres://...`) and runs pending migrations.
    pub async fn connect(url: &Secret) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let options = AnyConnectOptions::from_str(url.expose())
            .map_err(|_| anyhow::anyhow!("the metadata URL is not a valid database URL"))?
            .disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside a writer; busy_timeout makes writers
                        // queue instead of failing when another one holds the lock.
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute("PRAGMA busy_timeout=10000").await?;
                        conn.execute("PRAGMA synchronous=NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the metadata store: {}", describe(&e)))?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // Several processes may start at once against one database.
            tx.execute("SELECT pg_advisory_xact_lock(7286712)").await?;
        }
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await?;
        for (version, sql) in migrations::rendered(self.backend) {
            if version <= applied.unwrap_or(0) {
                continue;
            }
            for statement in migrations::statements(&sql) {
                tx.execute(statement).await?;
            }
            if version == migrations::BACKFILL_FIELDS {
                fields::backfill(&mut tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_millis())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn backend_of(url: &Secret) -> anyhow::Result<Backend> {
    let url = url.expose();
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        anyhow::bail!("the metadata URL must start with postgres://, postgresql:// or sqlite:")
    }
}

/// Describes a connection failure without the URL (which may carry a password).
fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(e) => format!("I/O error: {e}"),
        sqlx::Error::Tls(_) => "TLS error".to_string(),
        sqlx::Error::PoolTimedOut => "timed out".to_string(),
        sqlx::Error::Database(e) => format!("database error: {}", e.message()),
        sqlx::Error::Configuration(_) => "invalid configuration in the URL".to_string(),
        _ => "connection failed".to_string(),
    }
}

/// A fresh etag: a random UUID in double quotes, new on every change of a resource or run.
pub fn new_etag() -> String {
    format!("\"{}\"", uuid::Uuid::new_v4())
}

/// Milliseconds since the Unix epoch, the unit of every timestamp in the store.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}
