//! Change data capture from PostgreSQL (14 or later, `wal_level = logical`): a
//! publication for the table and a logical replication slot with the built-in `pgoutput`
//! plugin, read through SQL (`pg_logical_slot_peek_binary_changes`) so that a plain
//! session does: no replication connection, nothing beyond libpq's protocol.
//!
//! Changes are peeked, never consumed: the slot moves only when [`ChangeFeed::advance`]
//! is told that what was read has landed, so a run that dies re-reads the same changes.
//! See docs/cdc.md.

mod checks;

pub use checks::key_columns;
mod pgoutput;
mod read;

pub use read::slot_missing;
mod tuples;

use async_trait::async_trait;
use tokio_postgres::Client;

use crate::sources::changes::{Capture, ChangeFeed, ChangeRead, ChangeRequest, Lsn, Refusal, SlotState};
use crate::sources::config::SourceConfig;
use crate::sources::connect::{ConnectOptions, SourceSession, connect};
use crate::sources::table_ref::quote_ident;
use crate::sources::{SourceError, SourceErrorKind, TableRef};

/// The change feed of one PostgreSQL database.
pub struct Feed {
    config: SourceConfig,
    options: ConnectOptions,
}

impl Feed {
    /// The feed of the database of `config`.
    pub fn new(config: SourceConfig, options: ConnectOptions) -> Feed {
        Feed { config, options }
    }

    /// A session without a statement timeout: creating a slot waits for running
    /// transactions, and a peek decodes as much WAL as it must.
    async fn session(&self) -> Result<SourceSession, SourceError> {
        let options = ConnectOptions {
            statement_timeout: None,
            ..self.options.clone()
        };
        connect(&self.config, &options).await
    }
}

/// What a query that failed was doing, as the error says it.
fn failed(what: &str) -> impl Fn(tokio_postgres::Error) -> SourceError + '_ {
    move |error| SourceError::from_query(&error, what)
}

const SLOT_STATE: &str = "\
SELECT confirmed_flush_lsn::text, pg_current_wal_lsn()::text,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::int8,
       coalesce(wal_status, 'lost'), (coalesce(wal_status, 'lost') = 'lost' OR restart_lsn IS NULL)
FROM pg_catalog.pg_replication_slots
WHERE slot_name = $1 AND database = current_database()";

async fn slot_state(client: &Client, slot: &str) -> Result<Option<SlotState>, SourceError> {
    let row = client
        .query_opt(SLOT_STATE, &[&slot])
        .await
        .map_err(failed("reading the replication slot's state"))?;
    let Some(row) = row else { return Ok(None) };
    let lsn = |text: Option<String>| text.and_then(|t| t.parse::<Lsn>().ok()).unwrap_or_default();
    Ok(Some(SlotState {
        confirmed: lsn(row.get(0)),
        current: lsn(row.get(1)),
        retained_bytes: row.get::<_, i64>(2).max(0) as u64,
        wal_status: row.get(3),
        invalidated: row.get(4),
    }))
}

async fn create_publication(client: &Client, capture: &Capture) -> Result<(), SourceError> {
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1",
            &[&capture.publication],
        )
        .await
        .map_err(failed("looking for the publication"))?
        .is_some();
    if exists {
        return Ok(());
    }
    let sql = format!(
        "CREATE PUBLICATION {} FOR TABLE {}",
        quote_ident(&capture.publication),
        capture.table.quoted()
    );
    match client.batch_execute(&sql).await {
        Ok(()) => Ok(()),
        // Another attempt created it meanwhile.
        Err(e) if e.code().is_some_and(|c| c.code() == "42710") => Ok(()),
        Err(e) => Err(SourceError::from_query(&e, "creating the publication")),
    }
}

async fn create_slot(client: &Client, slot: &str) -> Result<(), SourceError> {
    let created = client
        .query(
            "SELECT 1 FROM pg_create_logical_replication_slot($1, 'pgoutput')",
            &[&slot],
        )
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.code().is_some_and(|c| c.code() == "42710") => Ok(()),
        Err(e) => Err(SourceError::from_query(&e, "creating the replication slot")),
    }
}

/// Drops `slot`; one in use (by a read of a run that was stopped, whose session the
/// server has not ended yet) is waited for a little.
async fn drop_slot(client: &Client, slot: &str) -> Result<(), SourceError> {
    for attempt in 0..20 {
        let dropped = client
            .query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots \
                 WHERE slot_name = $1 AND database = current_database()",
                &[&slot],
            )
            .await;
        match dropped {
            Ok(_) => return Ok(()),
            Err(e) if e.code().is_some_and(|c| c.code() == "55006") && attempt < 19 => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(e) => return Err(SourceError::from_query(&e, "dropping the replication slot")),
        }
    }
    unreachable!("the last attempt returns")
}

#[async_trait]
impl ChangeFeed for Feed {
    async fn check(
        &self,
        table: &TableRef,
        columns: Option<&[String]>,
    ) -> Result<Result<Vec<String>, Refusal>, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        checks::check(session.client(), table, columns).await
    }

    async fn prepare(&self, capture: &Capture, fresh: bool) -> Result<SlotState, SourceError> {
        let session = self.session().await?;
        let client = session.client();
        if fresh {
            drop_slot(client, &capture.slot).await?;
        }
        create_publication(client, capture).await?;
        if slot_state(client, &capture.slot).await?.is_none() {
            create_slot(client, &capture.slot).await?;
        }
        slot_state(client, &capture.slot).await?.ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::QueryFailed,
                format!("replication slot {} vanished right after it was created", capture.slot),
            )
        })
    }

    async fn slot(&self, capture: &Capture) -> Result<Option<SlotState>, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        slot_state(session.client(), &capture.slot).await
    }

    async fn changes(&self, capture: &Capture, request: &ChangeRequest) -> Result<ChangeRead, SourceError> {
        read::changes(self.session().await?, capture, request).await
    }

    async fn advance(&self, capture: &Capture, to: Lsn) -> Result<(), SourceError> {
        let session = self.session().await?;
        let client = session.client();
        let Some(state) = slot_state(client, &capture.slot).await? else {
            return Err(read::slot_missing(capture));
        };
        if state.confirmed >= to {
            return Ok(());
        }
        client
            .query(
                "SELECT pg_replication_slot_advance($1, $2::text::pg_lsn)",
                &[&capture.slot, &to.to_string()],
            )
            .await
            .map_err(failed("advancing the replication slot"))?;
        Ok(())
    }

    async fn flushed(&self) -> Result<Lsn, SourceError> {
        let session = connect(&self.config, &self.options).await?;
        read::flush_lsn(session.client()).await
    }

    async fn drop_capture(&self, capture: &Capture) -> Result<(), SourceError> {
        let session = self.session().await?;
        let client = session.client();
        drop_slot(client, &capture.slot).await?;
        let sql = format!("DROP PUBLICATION IF EXISTS {}", quote_ident(&capture.publication));
        client
            .batch_execute(&sql)
            .await
            .map_err(failed("dropping the publication"))
    }
}
