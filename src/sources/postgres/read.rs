//! `Source::read` for PostgreSQL: each partition is one
//! `COPY (SELECT <columns> FROM <table> WHERE <range> AND <window>) TO STDOUT (FORMAT binary)`
//! whose stream is decoded as it arrives into Arrow batches (see `copy_binary` and
//! `decode`), on its own connection and tokio task, all partitions in one snapshot (see
//! `partition`), their batches interleaved into one stream with bounded channels.
//!
//! Nothing is read before the stream is first polled; the snapshot is taken before
//! [`read`] returns.

use std::sync::Arc;

use futures::StreamExt;

use super::copy_binary::{CopyDecoder, DecodeError, DecodePlan};
use super::explore;
use super::partition::{self, Layout, Split};
use crate::sources::config::SourceConfig;
use crate::sources::connect::{ConnectOptions, SourceSession};
use crate::sources::read::merge::{BatchSender, Partitions};
use crate::sources::read::{ReadProgress, ReadRequest, ReadStream, ValueIssue, select_columns, window};
use crate::sources::schema::TableSchema;
use crate::sources::{SourceError, SourceErrorKind};

/// Reads `request` from the PostgreSQL database of `config`, splitting it by `split`.
pub async fn read(
    config: &SourceConfig,
    options: &ConnectOptions,
    request: &ReadRequest,
    split: Split,
) -> Result<ReadStream, SourceError> {
    // A read takes as long as the table needs: the explore statement timeout is not for it.
    let options = ConnectOptions {
        statement_timeout: None,
        ..options.clone()
    };
    let first = partition::session(config, &options).await?;
    let described = explore::describe(first.client(), &request.table).await?;
    let table = Arc::new(select_columns(&described, request.columns.as_deref())?);
    let window = match &request.window {
        Some(filter) => window::predicate(filter, &described)?,
        None => None,
    };
    let plan = Arc::new(DecodePlan::new(&table)?);
    let info = partition::table_info(&first, &request.table).await?;
    let layout = partition::layout(&info, request.partitions, split);
    // Split reads run in the snapshot's transactions, even when a key range collapses.
    let in_transaction = layout != Layout::Single;
    let sessions = partition::open(first, config, &options, &request.table, layout).await?;

    let progress = Arc::new(ReadProgress::default());
    let mut partitions = Partitions::new(request.channel_depth, progress.clone());
    for (session, range) in sessions {
        let filters: Vec<&str> = range.iter().chain(window.iter()).map(String::as_str).collect();
        let copy = Copy {
            sql: copy_sql(&table, &plan.select, &filters),
            plan: plan.clone(),
            table: table.clone(),
            batch_rows: request.batch_rows,
            in_transaction,
        };
        partitions.add(move |sender| copy.run(session, sender));
    }
    Ok(ReadStream {
        table: (*table).clone(),
        schema: plan.schema.clone(),
        batches: partitions.into_stream(),
        progress,
        estimated_rows: info.estimated_rows().filter(|_| request.window.is_none()),
    })
}

/// `COPY (SELECT ... FROM ... [WHERE ...]) TO STDOUT (FORMAT binary)`.
fn copy_sql(table: &TableSchema, select: &[String], filters: &[&str]) -> String {
    let mut query = format!("SELECT {} FROM {}", select.join(", "), table.table.quoted());
    if !filters.is_empty() {
        let filters: Vec<String> = filters.iter().map(|f| format!("({f})")).collect();
        query += &format!(" WHERE {}", filters.join(" AND "));
    }
    format!("COPY ({query}) TO STDOUT (FORMAT binary)")
}

/// One partition's COPY.
struct Copy {
    sql: String,
    plan: Arc<DecodePlan>,
    table: Arc<TableSchema>,
    batch_rows: usize,
    in_transaction: bool,
}

impl Copy {
    async fn run(self, session: SourceSession, mut sender: BatchSender) -> Result<(), SourceError> {
        let what = format!("reading {}", self.table.table);
        let query_error = |e: tokio_postgres::Error| SourceError::from_query(&e, &what);
        let stream = session
            .client()
            .copy_out(self.sql.as_str())
            .await
            .map_err(query_error)?;
        let mut stream = std::pin::pin!(stream);
        let mut decoder = CopyDecoder::new(self.plan.clone(), self.batch_rows);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(query_error)?;
            sender.received(chunk.len());
            decoder.feed(&chunk).map_err(|e| self.error(e))?;
            for batch in decoder.take_ready() {
                if !sender.send(batch).await {
                    return Ok(());
                }
            }
        }
        if let Some(batch) = decoder.finish().map_err(|e| self.error(e))?
            && !sender.send(batch).await
        {
            return Ok(());
        }
        if self.in_transaction {
            session.client().batch_execute("COMMIT").await.map_err(query_error)?;
        }
        Ok(())
    }

    fn error(&self, error: DecodeError) -> SourceError {
        let table = &self.table.table;
        match (error.column, error.issue) {
            (Some(index), issue) => issue.error(table, &self.table.columns[index].name),
            (None, ValueIssue::Malformed(what) | ValueIssue::CannotHold { reason: what, .. }) => {
                SourceError::new(SourceErrorKind::QueryFailed, format!("reading {table}: {what}"))
            }
        }
    }
}
