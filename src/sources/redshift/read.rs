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

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use tokio_postgres::SimpleQueryMessage;

use super::explore::{self, PREVIEW_SESSION, select_item};
use crate::sources::config::SourceConfig;
use crate::sources::connect::{ConnectOptions, SourceSession, connect};
use crate::sources::read::merge::{BatchSender, Partitions};
use crate::sources::read::text::TextColumn;
use crate::sources::read::{ReadProgress, ReadRequest, ReadStream, arrow_schema, select_columns, window};
use crate::sources::schema::TableSchema;
use crate::sources::{SourceError, SourceErrorKind};

/// Rows per `FETCH`: the most a single-node cluster allows.
pub const FETCH_ROWS: usize = 1000;
const CURSOR: &str = "inlet_read";

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
    let items: Vec<String> = table.columns.iter().map(select_item).collect();
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
        },
        batch_rows: request.batch_rows.max(1),
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

struct Batch {
    schema: arrow_schema::SchemaRef,
    columns: Vec<TextColumn>,
    rows: usize,
}

impl Batch {
    fn finish(&mut self) -> Result<RecordBatch, SourceError> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(TextColumn::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        self.rows = 0;
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)
            .map_err(|e| SourceError::new(SourceErrorKind::QueryFailed, format!("making a batch failed: {e}")))
    }
}

struct Cursor {
    session: SourceSession,
    table: TableSchema,
    batch: Batch,
    batch_rows: usize,
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
                if self.batch.rows == self.batch_rows && !sender.send(self.batch.finish()?).await {
                    return Ok(());
                }
            }
            if fetched < FETCH_ROWS.min(self.batch_rows) {
                break;
            }
        }
        if self.batch.rows > 0 && !sender.send(self.batch.finish()?).await {
            return Ok(());
        }
        let close = self
            .session
            .client()
            .batch_execute(&format!("CLOSE {CURSOR}; COMMIT"))
            .await;
        close.map_err(|e| SourceError::from_query(&e, &what))
    }

    fn append(&mut self, row: &tokio_postgres::SimpleQueryRow) -> Result<(), SourceError> {
        if row.len() != self.batch.columns.len() {
            let message = format!(
                "the cursor returned {} columns where {} were asked for",
                row.len(),
                self.batch.columns.len()
            );
            return Err(SourceError::new(SourceErrorKind::QueryFailed, message));
        }
        for (index, column) in self.batch.columns.iter_mut().enumerate() {
            column
                .append(row.get(index))
                .map_err(|issue| issue.error(&self.table.table, &self.table.columns[index].name))?;
        }
        self.batch.rows += 1;
        Ok(())
    }
}
