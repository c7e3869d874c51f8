//! PostgreSQL's binary COPY format, decoded as it arrives into Arrow record batches.
//!
//! The stream is a header (signature, flags, extension), then tuples (a 16-bit field
//! count, then per field a 32-bit length, -1 for NULL, and the value's bytes), then a
//! trailer (a field count of -1). The network delivers it in chunks whose edges fall
//! anywhere, in principle: a tuple is decoded only once all of it is there; the part of
//! a chunk after the last complete tuple waits in `carry` for the next chunk. (PostgreSQL
//! sends one message per tuple, so `carry` is almost always empty and tuples are decoded
//! straight from the received buffer.)

use std::mem;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::decode::{Column, Wire};
use crate::sources::SourceError;
use crate::sources::read::skip::{MAX_DESCRIBED_ROWS, RowIdentity, without_rows};
use crate::sources::read::{BadValue, RowId, ValueIssue, arrow_schema};
use crate::sources::schema::TableSchema;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// The header flag saying every tuple carries an OID first (never asked for here).
const HAS_OIDS: u32 = 1 << 16;

/// How a table's columns are selected and decoded; shared by all its partitions.
#[derive(Debug)]
pub struct DecodePlan {
    /// The Arrow schema of every batch.
    pub schema: SchemaRef,
    /// Each column's wire format.
    pub wires: Vec<Wire>,
    /// Each column's select-list expression, then the identity's (see `identity`).
    pub select: Vec<String>,
    /// What to do with a row holding a value its column cannot hold.
    pub on_bad_value: BadValue,
    /// With [`BadValue::Skip`], the fields selected after the columns that say which row
    /// was skipped; never read otherwise.
    pub identity: RowIdentity,
}

impl DecodePlan {
    /// The plan for `table`'s columns that fails on a value they cannot hold; a column
    /// no exact reader exists for is an error.
    pub fn new(table: &TableSchema) -> Result<DecodePlan, SourceError> {
        let schema = arrow_schema(table)?;
        let (wires, select) = table
            .columns
            .iter()
            .map(Wire::plan)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        Ok(DecodePlan {
            schema,
            wires,
            select,
            on_bad_value: BadValue::Fail,
            identity: RowIdentity::default(),
        })
    }

    /// The plan that skips rows holding a value their column cannot hold, identifying
    /// them by `identity`, selected after the columns.
    pub fn skipping(mut self, identity: RowIdentity) -> DecodePlan {
        self.select.extend(identity.select());
        self.on_bad_value = BadValue::Skip;
        self.identity = identity;
        self
    }
}

/// A row the decoder skipped: the column whose value could not be held (index), why, and
/// which row it was.
#[derive(Debug)]
pub struct BadRow {
    pub column: usize,
    pub issue: ValueIssue,
    pub row: RowId,
}

/// Why decoding stopped: a value of column `column` (index), or the stream itself.
#[derive(Debug)]
pub struct DecodeError {
    pub column: Option<usize>,
    pub issue: ValueIssue,
}

fn broken(what: &str) -> DecodeError {
    DecodeError {
        column: None,
        issue: ValueIssue::malformed(format!("the binary COPY stream {what}")),
    }
}

#[derive(PartialEq, Eq)]
enum State {
    Header,
    Tuples,
    Done,
}

enum Next {
    Incomplete,
    Trailer,
    Tuple(usize),
}

/// A batch ends after this many bytes of tuples even before `batch_rows` rows, so that
/// wide rows (long texts, documents) do not make batches, and so memory, large.
pub const BATCH_BYTES: usize = 1024 * 1024;

/// Decodes one COPY stream into batches of at most `batch_rows` rows and about
/// [`BATCH_BYTES`] bytes.
pub struct CopyDecoder {
    plan: Arc<DecodePlan>,
    columns: Vec<Column>,
    batch_rows: usize,
    /// Rows of the current batch, skipped ones included.
    rows: usize,
    /// Tuple bytes of the current batch.
    bytes: usize,
    /// Rows of the batches already made, skipped ones included.
    rows_before: u64,
    /// The partition this stream is, for [`RowId`]s.
    partition: usize,
    /// Indices in the current batch of the rows to skip, ascending.
    bad: Vec<usize>,
    /// Rows skipped since [`CopyDecoder::take_skipped`], and the first of them described.
    skipped: u64,
    described: Vec<BadRow>,
    state: State,
    carry: Vec<u8>,
    /// (offset, length) of each field of the tuple being decoded.
    fields: Vec<(usize, i32)>,
    ready: Vec<RecordBatch>,
}

impl CopyDecoder {
    /// A decoder for `plan`'s columns making batches of `batch_rows` (at least 1) rows,
    /// of the stream of `partition`.
    pub fn new(plan: Arc<DecodePlan>, batch_rows: usize, partition: usize) -> CopyDecoder {
        let batch_rows = batch_rows.max(1);
        let columns = plan
            .wires
            .iter()
            .zip(plan.schema.fields())
            .map(|(wire, field)| Column::new(wire, field.data_type(), batch_rows, batch_rows * 8))
            .collect();
        CopyDecoder {
            fields: Vec::with_capacity(plan.select.len()),
            plan,
            columns,
            batch_rows,
            rows: 0,
            bytes: 0,
            rows_before: 0,
            partition,
            bad: Vec::new(),
            skipped: 0,
            described: Vec::new(),
            state: State::Header,
            carry: Vec::new(),
            ready: Vec::new(),
        }
    }

    /// Decodes the complete tuples of `chunk` (and of what was carried over).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        let rest = match self.complete_carried(chunk)? {
            Some(start) => &chunk[start..],
            None => return Ok(()),
        };
        let used = self.decode(rest)?;
        self.carry.extend_from_slice(&rest[used..]);
        Ok(())
    }

    /// Finishes the tuple carried over from the last chunk with the first bytes of
    /// `chunk`, copying no more of it than that tuple needs (copying whole chunks cost a
    /// copy of the table). Answers where the rest of `chunk` starts, or `None` when all of
    /// it went into the carry and the tuple is still incomplete.
    fn complete_carried(&mut self, chunk: &[u8]) -> Result<Option<usize>, DecodeError> {
        if self.carry.is_empty() {
            return Ok(Some(0));
        }
        let mut taken = 0;
        while taken < chunk.len() {
            // Growing steps: a few bytes usually finish the tuple, a long value needs more.
            let step = self.carry.len().max(64).min(chunk.len() - taken);
            self.carry.extend_from_slice(&chunk[taken..taken + step]);
            taken += step;
            let carry = mem::take(&mut self.carry);
            let used = self.decode(&carry);
            self.carry = carry;
            let used = used?;
            if used > 0 {
                // The carried tuple is done; the bytes after `used` are `chunk`'s too.
                let start = taken - (self.carry.len() - used);
                self.carry.clear();
                return Ok(Some(start));
            }
        }
        Ok(None)
    }

    /// The batches completed so far.
    pub fn take_ready(&mut self) -> Vec<RecordBatch> {
        mem::take(&mut self.ready)
    }

    /// How many rows were skipped since the last call, and the first of them described
    /// (at most [`MAX_DESCRIBED_ROWS`]).
    pub fn take_skipped(&mut self) -> (u64, Vec<BadRow>) {
        (mem::take(&mut self.skipped), mem::take(&mut self.described))
    }

    /// The last, partly filled batch, once the stream has ended with its trailer.
    pub fn finish(mut self) -> Result<Option<RecordBatch>, DecodeError> {
        if self.state != State::Done || !self.carry.is_empty() {
            return Err(broken("ended in the middle"));
        }
        if self.rows == 0 {
            return Ok(None);
        }
        self.flush()?;
        Ok(self.ready.pop())
    }

    /// Decodes what of `input` it can; answers the bytes used.
    fn decode(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        let mut at = 0;
        if self.state == State::Header {
            match header(input)? {
                Some(length) => at = length,
                None => return Ok(0),
            }
            self.state = State::Tuples;
        }
        while self.state == State::Tuples {
            let tuple = &input[at..];
            let length = match self.locate(tuple)? {
                Next::Incomplete => break,
                Next::Trailer => {
                    self.state = State::Done;
                    at += 2;
                    break;
                }
                Next::Tuple(length) => length,
            };
            if let Err((index, issue)) = self.append_row(tuple) {
                self.skip_row(tuple, index, issue)?;
            }
            at += length;
            self.rows += 1;
            self.bytes += length;
            if self.rows == self.batch_rows || self.bytes >= BATCH_BYTES {
                self.flush()?;
            }
        }
        if self.state == State::Done && at < input.len() {
            return Err(broken("goes on after its trailer"));
        }
        Ok(at)
    }

    /// Appends the tuple's values; stops at the first that its column cannot take.
    #[inline]
    fn append_row(&mut self, tuple: &[u8]) -> Result<(), (usize, ValueIssue)> {
        for (index, column) in self.columns.iter_mut().enumerate() {
            let (offset, size) = self.fields[index];
            if size < 0 {
                column.append_null();
            } else {
                let value = &tuple[offset..offset + size as usize];
                column.append(value).map_err(|issue| (index, issue))?;
            }
        }
        Ok(())
    }

    /// After column `index` could not take its value: fails, or (when the plan skips such
    /// values) pads the row with placeholders and marks it to be dropped at the flush.
    #[cold]
    fn skip_row(&mut self, tuple: &[u8], index: usize, issue: ValueIssue) -> Result<(), DecodeError> {
        if !issue.skippable(self.plan.on_bad_value) {
            return Err(DecodeError {
                column: Some(index),
                issue,
            });
        }
        self.columns[index].pad_after_issue();
        for column in &mut self.columns[index + 1..] {
            column.append_null();
        }
        self.bad.push(self.rows);
        self.skipped += 1;
        if self.described.len() < MAX_DESCRIBED_ROWS {
            let texts = self.fields[self.columns.len()..].iter().map(|&(offset, size)| {
                let bytes = tuple.get(offset..offset + size.max(0) as usize).unwrap_or_default();
                String::from_utf8_lossy(bytes).into_owned()
            });
            let ordinal = self.rows_before + self.rows as u64 + 1;
            let row = self.plan.identity.row(self.partition, ordinal, texts);
            self.described.push(BadRow {
                column: index,
                issue,
                row,
            });
        }
        Ok(())
    }

    /// Finds the fields of the tuple at the start of `input`, if all of it is there.
    fn locate(&mut self, input: &[u8]) -> Result<Next, DecodeError> {
        let Some(count) = input.get(..2) else {
            return Ok(Next::Incomplete);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count == -1 {
            return Ok(Next::Trailer);
        }
        if count as usize != self.plan.select.len() {
            return Err(broken(
                "has a tuple with another number of fields than columns asked for",
            ));
        }
        self.fields.clear();
        let mut at = 2;
        for _ in 0..count {
            let Some(size) = input.get(at..at + 4) else {
                return Ok(Next::Incomplete);
            };
            let size = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
            at += 4;
            self.fields.push((at, size));
            if size >= 0 {
                at += size as usize;
                if at > input.len() {
                    return Ok(Next::Incomplete);
                }
            } else if size != -1 {
                return Err(broken("has a field of negative length"));
            }
        }
        Ok(Next::Tuple(at))
    }

    fn flush(&mut self) -> Result<(), DecodeError> {
        let plan = &self.plan;
        let arrays = self
            .columns
            .iter_mut()
            .zip(&plan.wires)
            .zip(plan.schema.fields())
            .map(|((column, wire), field)| column.take(wire, field.data_type(), self.rows))
            .collect();
        let batch = without_rows(&plan.schema, arrays, self.rows, &self.bad)
            .map_err(|e| broken(&format!("made a batch Arrow refuses ({e})")))?;
        self.ready.extend(batch);
        self.rows_before += self.rows as u64;
        self.rows = 0;
        self.bytes = 0;
        self.bad.clear();
        Ok(())
    }
}

/// The length of the header at the start of `input`, once all of it is there.
fn header(input: &[u8]) -> Result<Option<usize>, DecodeError> {
    let Some(fixed) = input.get(..19) else {
        return Ok(None);
    };
    if &fixed[..11] != SIGNATURE {
        return Err(broken("does not start with the binary COPY signature"));
    }
    let flags = u32::from_be_bytes([fixed[11], fixed[12], fixed[13], fixed[14]]);
    if flags & HAS_OIDS != 0 {
        return Err(broken("carries OIDs"));
    }
    let extension = u32::from_be_bytes([fixed[15], fixed[16], fixed[17], fixed[18]]) as usize;
    Ok((input.len() >= 19 + extension).then_some(19 + extension))
}

#[cfg(test)]
#[path = "copy_binary_tests.rs"]
mod tests;
