//! `Source::read` for Amazon Redshift, which has no `COPY ... TO STDOUT`: a cursor in a
//! transaction, fetched forward in bounded steps with the simple query protocol, each
//! text value converted exactly into its Arrow column (`read::text`).
//!
//! ```sql
//! BEGIN; DECLARE inlet_read CURSOR FOR SELECT ...;
//! FETCH FORWARD 1000 FROM inlet_read;   -- until fewer rows come back
//! CLOSE inlet_read; COMMIT;
//! ```
//!
//! One stream only: Redshift allows one open cursor per session, and materialises the
//! cursor's whole result on the leader node when the first row is fetched, so parallel
//! sessions would only multiply that work. For very large extracts `UNLOAD` to S3 is the
//! better path (docs/reading.md).

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use super::explore::{self, PREVIEW_SESSION, select_item};
use crate::sources::config::SourceConfig;
use crate::sources::connect::{ConnectOptions, SourceSession, connect};
use crate::sources::read::merge::{BatchSender, Partitions};
use crate::sources::read::skip::{MAX_DESCRIBED_ROWS, RowIdentity, without_rows};
use crate::sources::read::text::TextColumn;
use crate::sources::read::{
    BadValue, ReadProgress, ReadRequest, ReadStream, SkippedRow, ValueIssue, arrow_schema, select_columns, window,
};
use crate::sources::schema::{TableSchema, object_path};
use crate::sources::table_ref::quote_ident;
use crate::sources::{SourceError, SourceErrorKind};

/// Rows per `FETCH`: the most a single-node cluster allows.
pub const FETCH_ROWS: usize = 1000;
const CURSOR: &str = "inlet_read";

/// The declared primary key's columns, in table order ($1 schema, $2 name), from the
/// catalog (`information_schema.table_constraints` hides tables the user may only
/// select from). Redshift does not enforce keys, so their values name a row only as well
/// as the data keeps them unique.
const PRIMARY_KEY: &str = "\
SELECT a.attname::text
FROM pg_catalog.pg_constraint c
JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (c.conkey)
WHERE c.contype = 'p' AND n.nspname = $1 AND t.relname = $2
ORDER BY a.attnum";

/// Reads `request` from the Redshift cluster of `config` as one stream.
pub async fn read(
    config: &SourceConfig,
    options: &ConnectOptions,
    request: &ReadRequest,
) -> Result<ReadStream, SourceError> {
    let options = ConnectOptions {
        statement_timeout: None,
        ..options.clone()
    };
    let session = connect(config, &options).await?;
    let described = explore::describe(session.client(), &request.table).await?;
    let table = select_columns(&described, request.columns.as_deref())?;
    let window = match &request.window {
        Some(filter) => window::predicate(filter, &described)?,
        None => None,
    };
    let schema = arrow_schema(&table)?;
    let columns: Vec<TextColumn> = table
        .columns
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            TextColumn::new(field.data_type()).ok_or_else(|| {
                let message = format!(
                    "column `{}` ({}) cannot be read from Redshift",
                    column.name, column.original_type
                );
                SourceError::new(SourceErrorKind::Unsupported, message)
            })
        })
        .collect::<Result<_, _>>()?;
    let mut items: Vec<String> = table.columns.iter().map(select_item).collect();
    let identity = match request.on_bad_value {
        BadValue::Fail => RowIdentity::default(),
        BadValue::Skip => identity(session.client(), &described).await?,
    };
    items.extend(identity.key.iter().map(|k| quote_ident(k)));
    let mut query = format!("SELECT {} FROM {}", items.join(", "), table.table.quoted());
    if let Some(window) = window {
        query += &format!(" WHERE {window}");
    }
    let declare = format!("{PREVIEW_SESSION}; BEGIN; DECLARE {CURSOR} CURSOR FOR {query}");
    let what = format!("reading {}", table.table);
    let declared = session.client().batch_execute(&declare).await;
    declared.map_err(|e| SourceError::from_query(&e, &what))?;

    let progress = Arc::new(ReadProgress::default());
    let mut partitions = Partitions::new(request.channel_depth, progress.clone());
    let cursor = Cursor {
        session,
        table: table.clone(),
        batch: Batch {
            schema: schema.clone(),
            columns,
            rows: 0,
            bad: Vec::new(),
        },
        batch_rows: request.batch_rows.max(1),
        on_bad_value: request.on_bad_value,
        identity,
        ordinal: 0,
        skipped: 0,
        described: Vec::new(),
    };
    partitions.add(move |sender| cursor.run(sender));
    Ok(ReadStream {
        table,
        schema,
        batches: partitions.into_stream(),
        progress,
        estimated_rows: None,
    })
}

/// How skipped rows of `table` are identified: by its declared primary key when the user
/// may read all of its columns, else by position.
async fn identity(client: &Client, table: &TableSchema) -> Result<RowIdentity, SourceError> {
    let what = format!("finding the primary key of {}", object_path(&table.table));
    let rows = client
        .query(PRIMARY_KEY, &[&table.table.schema, &table.table.table])
        .await
        .map_err(|e| SourceError::from_query(&e, &what))?;
    let key: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    let readable = key.iter().all(|k| table.columns.iter().any(|c| &c.name == k));
    Ok(RowIdentity::new(if readable { key } else { Vec::new() }, false))
}

struct Batch {
    schema: arrow_schema::SchemaRef,
    columns: Vec<TextColumn>,
    /// Rows appended, skipped ones included.
    rows: usize,
    /// Indices of the rows to skip, ascending.
    bad: Vec<usize>,
}

impl Batch {
    /// The batch's rows but the skipped ones; `None` when none is left.
    fn finish(&mut self) -> Result<Option<RecordBatch>, SourceError> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(TextColumn::finish).collect();
        let batch = without_rows(&self.schema, arrays, self.rows, &self.bad);
        self.rows = 0;
        self.bad.clear();
        batch.map_err(|e| SourceError::new(SourceErrorKind::QueryFailed, format!("making a batch failed: {e}")))
    }
}

struct Cursor {
    session: SourceSession,
    table: TableSchema,
    batch: Batch,
    batch_rows: usize,
    on_bad_value: BadValue,
    identity: RowIdentity,
    /// Rows fetched so far.
    ordinal: u64,
    /// Rows skipped and not yet reported, and the first of them described.
    skipped: u64,
    described: Vec<SkippedRow>,
}

impl Cursor {
    async fn run(mut self, mut sender: BatchSender) -> Result<(), SourceError> {
        let what = format!("reading {}", self.table.table);
        let fetch = format!("FETCH FORWARD {} FROM {CURSOR}", FETCH_ROWS.min(self.batch_rows));
        loop {
            let messages = self.session.client().simple_query(&fetch).await;
            let messages = messages.map_err(|e| SourceError::from_query(&e, &what))?;
            let mut fetched = 0;
            for message in &messages {
                let SimpleQueryMessage::Row(row) = message else {
                    continue;
                };
                fetched += 1;
                sender.received(row.len() + (0..row.len()).filter_map(|i| row.get(i)).map(str::len).sum::<usize>());
                self.append(row)?;
                if self.batch.rows == self.batch_rows && !self.send(&mut sender).await? {
                    return Ok(());
                }
            }
            if fetched < FETCH_ROWS.min(self.batch_rows) {
                break;
            }
        }
        if self.batch.rows > 0 && !self.send(&mut sender).await? {
            return Ok(());
        }
        let close = self
            .session
            .client()
            .batch_execute(&format!("CLOSE {CURSOR}; COMMIT"))
            .await;
        close.map_err(|e| SourceError::from_query(&e, &what))
    }

    /// Reports the skipped rows and hands the batch over (unless every row was skipped);
    /// false when the stream is gone.
    async fn send(&mut self, sender: &mut BatchSender) -> Result<bool, SourceError> {
        let batch = self.batch.finish()?;
        if self.skipped > 0 {
            sender.skipped(std::mem::take(&mut self.skipped), std::mem::take(&mut self.described));
        }
        Ok(match batch {
            Some(batch) => sender.send(batch).await,
            None => true,
        })
    }

    fn append(&mut self, row: &SimpleQueryRow) -> Result<(), SourceError> {
        let width = self.batch.columns.len() + self.identity.fields();
        if row.len() != width {
            let message = format!(
                "the cursor returned {} columns where {} were asked for",
                row.len(),
                width
            );
            return Err(SourceError::new(SourceErrorKind::QueryFailed, message));
        }
        self.ordinal += 1;
        for (index, column) in self.batch.columns.iter_mut().enumerate() {
            if let Err(issue) = column.append(row.get(index)) {
                return self.skip(row, index, issue);
            }
        }
        self.batch.rows += 1;
        Ok(())
    }

    /// After column `index` could not take its value: fails, or (skipping) pads the row
    /// with NULLs and marks it to be dropped when the batch is finished.
    #[cold]
    fn skip(&mut self, row: &SimpleQueryRow, index: usize, issue: ValueIssue) -> Result<(), SourceError> {
        let name = &self.table.columns[index].name;
        if !issue.skippable(self.on_bad_value) {
            return Err(issue.error(&self.table.table, name));
        }
        for column in &mut self.batch.columns[index..] {
            column.append_null();
        }
        self.batch.bad.push(self.batch.rows);
        self.batch.rows += 1;
        self.skipped += 1;
        if self.described.len() < MAX_DESCRIBED_ROWS {
            let columns = self.batch.columns.len();
            let texts = (columns..row.len()).map(|i| row.get(i).unwrap_or_default().to_string());
            let id = self.identity.row(0, self.ordinal, texts);
            self.described.push(SkippedRow::new(&self.table.table, name, issue, id));
        }
        Ok(())
    }
}
