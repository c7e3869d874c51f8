//! Change data capture, as sources offer it: a table's inserts, updates and deletes read
//! from the database's log through a [`ChangeFeed`], decoded into Arrow rows in commit
//! order. PostgreSQL implements it (logical replication, `pgoutput`); Redshift has no
//! change log to read. What the rows mean, and how they are merged, is docs/cdc.md.

use std::fmt;
use std::str::FromStr;

use arrow_array::RecordBatch;
use async_trait::async_trait;
use futures::stream::BoxStream;

use super::{SourceError, TableRef};

/// A position in PostgreSQL's write-ahead log (`pg_lsn`), written `X/Y` in hex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = String;

    /// Parses `X/Y` (each part 1 to 8 hex digits), as PostgreSQL prints a `pg_lsn`.
    fn from_str(text: &str) -> Result<Lsn, String> {
        let refuse = || format!("`{text}` is not a WAL position (two hex numbers of up to 8 digits: `16/B374D848`)");
        let (high, low) = text.split_once('/').ok_or_else(refuse)?;
        let part = |p: &str| {
            (!p.is_empty() && p.len() <= 8)
                .then(|| u64::from_str_radix(p, 16).ok())
                .flatten()
                .ok_or_else(refuse)
        };
        Ok(Lsn(part(high)? << 32 | part(low)?))
    }
}

/// What a row of a [`ChangeChunk`] does to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new row: every column has its value.
    Insert,
    /// A row's new version, under the same key. Columns listed in the chunk's `unchanged`
    /// keep the value they had (PostgreSQL does not send unchanged TOASTed values).
    Update,
    /// The new version of a row whose update changed its key: the row just before it in
    /// the chunk is the delete of the old key, and its unchanged columns keep the values
    /// of the old key's row.
    KeyChange,
    /// The row with this key is gone; only the key columns are set.
    Delete,
}

/// Changes in commit order as rows of the captured columns (every field nullable: a
/// delete sets only the key, an unchanged value is null here).
#[derive(Clone, Debug)]
pub struct ChangeChunk {
    pub batch: RecordBatch,
    pub kinds: Vec<ChangeKind>,
    /// `(row, column)` cells sent as "unchanged" by an update: the row keeps its value.
    pub unchanged: Vec<(u32, u32)>,
}

/// One step of a change read.
#[derive(Clone, Debug)]
pub enum ChangeEvent {
    Rows(ChangeChunk),
    /// The table was truncated: every row before this is gone.
    Truncate,
    /// The read ended; nothing follows.
    End(ChangeSummary),
}

/// How a change read ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// The end of the last transaction read; the slot may be advanced to it once its
    /// changes have landed. `None` when no transaction was read.
    pub last_commit_end: Option<Lsn>,
    /// Every transaction committed before the read began was read (the read was not cut
    /// short by the change limit).
    pub complete: bool,
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    pub truncates: u64,
    /// Transactions read (including ones without changes to the table).
    pub transactions: u64,
    /// Bytes of decoded messages received.
    pub bytes: u64,
}

/// The changes of one read, ending with [`ChangeEvent::End`] or an error.
pub type ChangeStream = BoxStream<'static, Result<ChangeEvent, SourceError>>;

/// A change read that has begun: the table's key, and its changes.
pub struct ChangeRead {
    /// The key's columns, in key order: what rows are merged by.
    pub key: Vec<String>,
    /// The slot's position when the read began: the changes follow it.
    pub from: Lsn,
    pub stream: ChangeStream,
}

/// The database objects one capture consists of (named after its flow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    pub table: TableRef,
    pub slot: String,
    pub publication: String,
}

impl Capture {
    /// The capture of `table` for flow `flow_id`: slot and publication `inlet_<32 hex>`
    /// (PostgreSQL slot names allow lower-case letters, digits and `_`, up to 63).
    pub fn for_flow(flow_id: &str, table: TableRef) -> Capture {
        let hex: String = flow_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(48)
            .collect();
        let name = format!("inlet_{hex}");
        Capture {
            table,
            slot: name.clone(),
            publication: name,
        }
    }
}

/// A capture's slot, as the database reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotState {
    /// Changes committed after this position are still to be read.
    pub confirmed: Lsn,
    /// The database's current WAL position.
    pub current: Lsn,
    /// Bytes of WAL the slot keeps the database from removing.
    pub retained_bytes: u64,
    /// `reserved`, `extended`, `unreserved` or `lost` (PostgreSQL's `wal_status`).
    pub wal_status: String,
    /// The slot can no longer be read: the database removed WAL it needed.
    pub invalidated: bool,
}

/// What a change read asks for.
#[derive(Clone, Debug)]
pub struct ChangeRequest {
    /// Columns to capture (all when `None`); the key's columns are always among them.
    pub columns: Option<Vec<String>>,
    /// Stop after the transaction in which this many changes have been read (`None`: read
    /// every transaction committed before the read began).
    pub max_changes: Option<u32>,
    /// Rows per chunk, at most.
    pub batch_rows: usize,
    /// Written into the log when the read begins, so the read knows where "now" is.
    pub marker: String,
}

/// Why a table cannot be captured, said so that its owner knows what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The setting, privilege or table property that is missing.
    pub what: &'static str,
    pub message: String,
}

/// A source whose log can be read (PostgreSQL's logical replication).
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Checks that `table` can be captured by this user on this server (settings,
    /// privileges, the table's key and column types); the key's columns, in key order.
    async fn check(
        &self,
        table: &TableRef,
        columns: Option<&[String]>,
    ) -> Result<Result<Vec<String>, Refusal>, SourceError>;
    /// Creates the capture's publication and slot when missing; with `fresh`, drops an
    /// existing slot first (its changes are given up: a new snapshot follows).
    async fn prepare(&self, capture: &Capture, fresh: bool) -> Result<SlotState, SourceError>;
    /// The slot's state; `None` when it does not exist.
    async fn slot(&self, capture: &Capture) -> Result<Option<SlotState>, SourceError>;
    /// Reads the changes committed after the slot's position, without consuming them.
    async fn changes(&self, capture: &Capture, request: &ChangeRequest) -> Result<ChangeRead, SourceError>;
    /// Moves the slot past `to` (a transaction's end), so the database may free the WAL
    /// before it; a position the slot has passed already is not an error.
    async fn advance(&self, capture: &Capture, to: Lsn) -> Result<(), SourceError>;
    /// The WAL position every transaction committed so far is at or before.
    async fn flushed(&self) -> Result<Lsn, SourceError>;
    /// Drops the slot and the publication; missing ones are not an error.
    async fn drop_capture(&self, capture: &Capture) -> Result<(), SourceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_parse_and_print_as_postgresql_does() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn, Lsn(0x16_B374_D848));
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>().unwrap(), Lsn(0));
        assert!("0/1" < "0/2" && Lsn(1) < Lsn(2));
        for bad in ["", "16", "/1", "1/", "g/1", "123456789/0", "1/2/3", "-1/0"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn capture_names_are_valid_slot_names() {
        let table = TableRef::parse("public.t", "public").unwrap();
        let capture = Capture::for_flow("6F1c2d3e-aaaa-bbbb-cccc-0123456789ab", table);
        assert_eq!(capture.slot, "inlet_6f1c2d3eaaaabbbbcccc0123456789ab");
        assert!(capture.slot.len() <= 63);
        assert!(
            capture
                .slot
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
    }
}
