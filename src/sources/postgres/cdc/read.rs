//! Reading a capture's changes: mark "now" in the log, then peek the slot's changes up to
//! that mark and decode them as they arrive, on a task of their own, into a bounded
//! channel of [`ChangeEvent`]s.
//!
//! The mark is a transactional logical message committed synchronously (so it is flushed
//! even where `synchronous_commit` is off); its transaction's end is where the slot may
//! move to even when the table itself had no change, which keeps an idle table's slot
//! from holding WAL back. The read is `complete` once the mark's transaction arrives.

use futures::{StreamExt, pin_mut};
use tokio::sync::mpsc;
use tokio_postgres::{Client, RowStream};

use super::checks::key_columns;
use super::failed;
use super::pgoutput::{Message, parse};
use super::tuples::{CatalogColumn, ChunkBuilder};
use crate::sources::changes::{Capture, ChangeEvent, ChangeRead, ChangeRequest, ChangeSummary, Lsn};
use crate::sources::connect::SourceSession;
use crate::sources::postgres::explore;
use crate::sources::{SourceError, SourceErrorKind};

/// The prefix of Inlet's logical messages.
const MARK_PREFIX: &str = "inlet";

const PEEK: &str = "\
SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2::text::pg_lsn, $3,
    'proto_version', '1', 'publication_names', $4, 'binary', 'true', 'messages', 'true')";

const TYPE_OIDS: &str = "\
SELECT a.attname::text, a.atttypid::int8
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped";

/// Starts reading the changes of `capture` committed before now (or fewer, see
/// [`ChangeRequest::max_changes`]).
pub async fn changes(
    session: SourceSession,
    capture: &Capture,
    request: &ChangeRequest,
) -> Result<ChangeRead, SourceError> {
    if !request.marker.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || request.marker.is_empty() {
        return Err(SourceError::new(
            SourceErrorKind::QueryFailed,
            "a change read's marker is letters, digits and dashes",
        ));
    }
    let client = session.client();
    let catalog = catalog(client, capture).await?;
    let key = key_columns(client, &capture.table).await?;
    let from = super::slot_state(client, &capture.slot)
        .await?
        .ok_or_else(|| slot_missing(capture))?
        .confirmed;
    let upto = mark(client, &request.marker).await?;
    let limit = request.max_changes.map(|n| n.min(i32::MAX as u32) as i32);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&capture.slot, &upto.to_string(), &limit, &capture.publication];
    let rows = client
        .query_raw(PEEK, params)
        .await
        .map_err(failed("reading the replication slot's changes"))?;
    let builder = ChunkBuilder::new(
        capture.table.clone(),
        catalog,
        request.columns.clone(),
        key.clone(),
        request.batch_rows,
    );
    let decoder = Decoder {
        builder,
        capture: capture.clone(),
        marker: request.marker.clone(),
        in_transaction: false,
        marked: false,
        summary: ChangeSummary::default(),
    };
    let (sender, receiver) = mpsc::channel(4);
    tokio::spawn(pump(session, rows, decoder, sender));
    let stream = futures::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|item| (item, r)) }).boxed();
    Ok(ChangeRead { key, from, stream })
}

/// The error for a capture whose slot is gone.
pub fn slot_missing(capture: &Capture) -> SourceError {
    SourceError::new(
        SourceErrorKind::QueryFailed,
        format!("replication slot {} does not exist", capture.slot),
    )
}

/// The WAL position up to which everything is flushed.
pub async fn flush_lsn(client: &Client) -> Result<Lsn, SourceError> {
    let row = client
        .query_one("SELECT pg_current_wal_flush_lsn()::text", &[])
        .await
        .map_err(failed("reading the WAL position"))?;
    let text: String = row.get(0);
    text.parse()
        .map_err(|e: String| SourceError::new(SourceErrorKind::QueryFailed, e))
}

/// Writes the mark and answers a flushed position at or after its commit.
async fn mark(client: &Client, marker: &str) -> Result<Lsn, SourceError> {
    let sql = format!(
        "BEGIN; SET LOCAL synchronous_commit TO on; \
         SELECT pg_logical_emit_message(true, '{MARK_PREFIX}', '{marker}'); COMMIT"
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(failed("marking the read's position in the log"))?;
    flush_lsn(client).await
}

/// The table's columns now, with their types' OIDs, to check the relation messages by.
async fn catalog(client: &Client, capture: &Capture) -> Result<Vec<CatalogColumn>, SourceError> {
    let described = explore::describe(client, &capture.table).await?;
    let rows = client
        .query(TYPE_OIDS, &[&capture.table.schema, &capture.table.table])
        .await
        .map_err(failed("reading the table's column types"))?;
    Ok(described
        .columns
        .into_iter()
        .filter_map(|info| {
            let oid = rows.iter().find(|r| r.get::<_, &str>(0) == info.name)?.get::<_, i64>(1);
            Some(CatalogColumn {
                info,
                type_oid: oid as u32,
            })
        })
        .collect())
}

async fn pump(
    session: SourceSession,
    rows: RowStream,
    mut decoder: Decoder,
    sender: mpsc::Sender<Result<ChangeEvent, SourceError>>,
) {
    // The session lives as long as its rows are read.
    let _session = session;
    pin_mut!(rows);
    while let Some(row) = rows.next().await {
        let decoded = match row {
            Ok(row) => decoder.message(row.get::<_, &[u8]>(0)),
            Err(error) => Err(SourceError::from_query(
                &error,
                "reading the replication slot's changes",
            )),
        };
        match decoded {
            Ok(events) => {
                for event in events {
                    if sender.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => {
                let _ = sender.send(Err(error)).await;
                return;
            }
        }
    }
    for event in decoder.finish() {
        if sender.send(event).await.is_err() {
            return;
        }
    }
}

/// The state of one read: the chunk being built and where in the log it is.
struct Decoder {
    builder: ChunkBuilder,
    capture: Capture,
    marker: String,
    in_transaction: bool,
    /// The current transaction holds this read's mark.
    marked: bool,
    summary: ChangeSummary,
}

impl Decoder {
    /// Decodes one message; the events it completes.
    fn message(&mut self, bytes: &[u8]) -> Result<Vec<ChangeEvent>, SourceError> {
        self.summary.bytes += bytes.len() as u64;
        let message = parse(bytes).map_err(|e| SourceError::new(SourceErrorKind::QueryFailed, e.to_string()))?;
        let ours = |relation: &u32| self.builder.relation_id() == Some(*relation);
        let mut events = Vec::new();
        match message {
            Message::Begin { .. } => {
                self.in_transaction = true;
                self.marked = false;
            }
            Message::Commit { end_lsn, .. } => {
                self.in_transaction = false;
                // The read's own mark is no source transaction.
                self.summary.transactions += u64::from(!self.marked);
                self.summary.last_commit_end = Some(end_lsn);
                self.summary.complete |= self.marked;
            }
            Message::Relation(relation)
                if relation.namespace == self.capture.table.schema && relation.name == self.capture.table.table =>
            {
                self.builder.relation(&relation)?;
            }
            Message::Insert { relation, new } if ours(&relation) => {
                self.summary.inserts += 1;
                self.builder.insert(&new)?;
            }
            Message::Update { relation, old, new } if ours(&relation) => {
                self.summary.updates += 1;
                self.builder.update(old.as_ref(), &new)?;
            }
            Message::Delete { relation, old } if ours(&relation) => {
                self.summary.deletes += 1;
                self.builder.delete(&old.1)?;
            }
            Message::Truncate { relations } if relations.iter().any(ours) => {
                self.summary.truncates += 1;
                self.builder.flush()?;
                events.extend(self.builder.take_ready().into_iter().map(ChangeEvent::Rows));
                events.push(ChangeEvent::Truncate);
            }
            Message::Logical { prefix, content, .. } => {
                self.marked |= prefix == MARK_PREFIX && content == self.marker.as_bytes();
            }
            _ => {}
        }
        events.extend(self.builder.take_ready().into_iter().map(ChangeEvent::Rows));
        Ok(events)
    }

    /// The last chunk and the summary, once every message is read.
    fn finish(mut self) -> Vec<Result<ChangeEvent, SourceError>> {
        if self.in_transaction {
            return vec![Err(SourceError::new(
                SourceErrorKind::QueryFailed,
                "the replication slot's changes ended inside a transaction",
            ))];
        }
        if let Err(error) = self.builder.flush() {
            return vec![Err(error)];
        }
        let mut events: Vec<_> = self
            .builder
            .take_ready()
            .into_iter()
            .map(|c| Ok(ChangeEvent::Rows(c)))
            .collect();
        events.push(Ok(ChangeEvent::End(self.summary)));
        events
    }
}
