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
use super::partition::{self, Layout, Split, TableInfo};
use crate::sources::config::SourceConfig;
use crate::sources::connect::{ConnectOptions, SourceSession};
use crate::sources::read::merge::{BatchSender, Partitions};
use crate::sources::read::skip::RowIdentity;
use crate::sources::read::{
    BadValue, ReadProgress, ReadRequest, ReadStream, SkippedRow, ValueIssue, select_columns, window,
};
use crate::sources::schema::{TableSchema, object_path};
use crate::sources::{SourceError, SourceErrorKind, TableRef};

/// The primary key's columns in key order, each with whether the user may read it ($1
/// schema, $2 name).
const PRIMARY_KEY: &str = "\
SELECT a.attname::text, has_column_privilege(c.oid, a.attnum, 'SELECT')
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE n.nspname = $1 AND c.relname = $2
ORDER BY k.position";

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
    let info = partition::table_info(&first, &request.table).await?;
    let info = match &window {
        Some(filter) if matches!(info.kind.as_str(), "r" | "m") => {
            partition::filtered(&first, &table.table.quoted(), filter, info).await
        }
        _ => info,
    };
    let plan = match request.on_bad_value {
        BadValue::Fail => DecodePlan::new(&table)?,
        BadValue::Skip => DecodePlan::new(&table)?.skipping(identity(&first, &request.table, &info).await?),
    };
    let plan = Arc::new(plan);
    let layout = partition::layout(&info, request.partitions, split);
    // Split reads run in the snapshot's transactions, even when a key range collapses.
    let in_transaction = layout != Layout::Single;
    let sessions = partition::open(first, config, &options, &request.table, layout).await?;

    let progress = Arc::new(ReadProgress::default());
    let mut partitions = Partitions::new(request.channel_depth, progress.clone());
    for (partition, (session, range)) in sessions.into_iter().enumerate() {
        let filters: Vec<&str> = range.iter().chain(window.iter()).map(String::as_str).collect();
        let copy = Copy {
            sql: copy_sql(&table, &plan.select, &filters),
            plan: plan.clone(),
            table: table.clone(),
            batch_rows: request.batch_rows,
            in_transaction,
            partition,
            raw_text: info.encoding == "SQL_ASCII",
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

/// How skipped rows of `table` are identified: by its primary key when the user may read
/// all of its columns, else by position and (tables, materialized views) ctid.
async fn identity(session: &SourceSession, table: &TableRef, info: &TableInfo) -> Result<RowIdentity, SourceError> {
    let what = format!("finding the primary key of {}", object_path(table));
    let rows = session
        .client()
        .query(PRIMARY_KEY, &[&table.schema, &table.table])
        .await
        .map_err(|e| SourceError::from_query(&e, &what))?;
    let readable = rows.iter().all(|row| row.get::<_, bool>(1));
    let key = if readable {
        rows.iter().map(|row| row.get(0)).collect()
    } else {
        Vec::new()
    };
    Ok(RowIdentity::new(key, matches!(info.kind.as_str(), "r" | "m")))
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
    partition: usize,
    /// Receive text as the database holds it, unconverted: a `SQL_ASCII` database can
    /// hold any bytes, which the server would refuse to convert to UTF-8 for the whole
    /// COPY; unconverted, the decoder names the value (and can skip its row).
    raw_text: bool,
}

impl Copy {
    async fn run(self, session: SourceSession, mut sender: BatchSender) -> Result<(), SourceError> {
        let what = format!("reading {}", self.table.table);
        let query_error = |e: tokio_postgres::Error| SourceError::from_query(&e, &what);
        if self.raw_text {
            let set = session
                .client()
                .batch_execute("SET client_encoding TO 'SQL_ASCII'")
                .await;
            set.map_err(query_error)?;
        }
        let stream = session
            .client()
            .copy_out(self.sql.as_str())
            .await
            .map_err(query_error)?;
        let mut stream = std::pin::pin!(stream);
        let mut decoder = CopyDecoder::new(self.plan.clone(), self.batch_rows, self.partition);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(query_error)?;
            sender.received(chunk.len());
            decoder.feed(&chunk).map_err(|e| self.error(e))?;
            self.report_skipped(&mut decoder, &mut sender);
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

    /// Hands the rows the decoder skipped to the read's progress, described.
    fn report_skipped(&self, decoder: &mut CopyDecoder, sender: &mut BatchSender) {
        let (count, described) = decoder.take_skipped();
        if count == 0 {
            return;
        }
        let table = &self.table;
        let described = described
            .into_iter()
            .map(|bad| SkippedRow::new(&table.table, &table.columns[bad.column].name, bad.issue, bad.row))
            .collect();
        sender.skipped(count, described);
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
