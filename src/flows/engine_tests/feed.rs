//! The fake change feed of the engine's unit tests: a slot position and transactions of
//! inserted ids, in memory.

use std::sync::{Arc, Mutex};

use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use async_trait::async_trait;

use crate::sources::changes::{
    Capture, ChangeChunk, ChangeEvent, ChangeFeed, ChangeKind, ChangeRead, ChangeRequest, ChangeSummary, Lsn, Refusal,
    SlotState,
};
use crate::sources::{SourceError, TableRef};

/// A change feed in memory: a slot position, and transactions of inserted ids.
#[derive(Default)]
pub struct FakeFeed {
    state: Mutex<FeedState>,
}

#[derive(Default)]
struct FeedState {
    /// The slot's confirmed position; `None`: no slot.
    slot: Option<Lsn>,
    /// Transactions: the ids they insert, and where they end.
    transactions: Vec<(Vec<i64>, Lsn)>,
    advanced: Vec<Lsn>,
    fresh_slots: usize,
}

impl FakeFeed {
    /// Commits a transaction inserting `ids` that ends at `end`.
    pub fn commit(&self, ids: Vec<i64>, end: u64) {
        self.state.lock().unwrap().transactions.push((ids, Lsn(end)));
    }

    /// The slot's position; `None` without a slot.
    pub fn slot(&self) -> Option<Lsn> {
        self.state.lock().unwrap().slot
    }

    /// Every position the slot was told to move to, in order.
    pub fn advanced(&self) -> Vec<Lsn> {
        self.state.lock().unwrap().advanced.clone()
    }

    /// Drops the slot, as an operator might.
    pub fn lose_slot(&self) {
        self.state.lock().unwrap().slot = None;
    }

    /// How many times a fresh slot was asked for.
    pub fn fresh_slots(&self) -> usize {
        self.state.lock().unwrap().fresh_slots
    }
}

fn slot_state(confirmed: Lsn) -> SlotState {
    SlotState {
        confirmed,
        current: confirmed,
        retained_bytes: 0,
        wal_status: "reserved".into(),
        invalidated: false,
    }
}

#[async_trait]
impl ChangeFeed for FakeFeed {
    async fn check(&self, _: &TableRef, _: Option<&[String]>) -> Result<Result<Vec<String>, Refusal>, SourceError> {
        Ok(Ok(vec!["id".into()]))
    }

    async fn prepare(&self, _: &Capture, fresh: bool) -> Result<SlotState, SourceError> {
        let mut state = self.state.lock().unwrap();
        if fresh {
            state.fresh_slots += 1;
            state.slot = None;
        }
        let end = state.transactions.last().map_or(Lsn(100), |(_, end)| *end);
        Ok(slot_state(*state.slot.get_or_insert(end)))
    }

    async fn slot(&self, _: &Capture) -> Result<Option<SlotState>, SourceError> {
        Ok(self.state.lock().unwrap().slot.map(slot_state))
    }

    async fn changes(&self, capture: &Capture, _: &ChangeRequest) -> Result<ChangeRead, SourceError> {
        let state = self.state.lock().unwrap();
        let from = state
            .slot
            .ok_or_else(|| crate::sources::postgres::cdc::slot_missing(capture))?;
        let after: Vec<&(Vec<i64>, Lsn)> = state.transactions.iter().filter(|(_, end)| *end > from).collect();
        let ids: Vec<i64> = after.iter().flat_map(|(ids, _)| ids.iter().copied()).collect();
        let summary = ChangeSummary {
            last_commit_end: after.last().map(|(_, end)| *end),
            complete: true,
            inserts: ids.len() as u64,
            transactions: after.len() as u64,
            ..ChangeSummary::default()
        };
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(ids.clone()))]).unwrap();
        let chunk = ChangeChunk {
            batch,
            kinds: vec![ChangeKind::Insert; ids.len()],
            unchanged: Vec::new(),
        };
        let events = vec![Ok(ChangeEvent::Rows(chunk)), Ok(ChangeEvent::End(summary))];
        Ok(ChangeRead {
            key: vec!["id".into()],
            from,
            stream: Box::pin(futures::stream::iter(events)),
        })
    }

    async fn advance(&self, _: &Capture, to: Lsn) -> Result<(), SourceError> {
        let mut state = self.state.lock().unwrap();
        state.advanced.push(to);
        state.slot = state.slot.map(|slot| slot.max(to));
        Ok(())
    }

    async fn flushed(&self) -> Result<Lsn, SourceError> {
        Ok(Lsn(0))
    }

    async fn drop_capture(&self, _: &Capture) -> Result<(), SourceError> {
        self.state.lock().unwrap().slot = None;
        Ok(())
    }
}

/// A feed the fake source hands out (it owns only a box).
pub struct SharedFeed(pub Arc<dyn ChangeFeed>);

#[async_trait]
impl ChangeFeed for SharedFeed {
    async fn check(&self, t: &TableRef, c: Option<&[String]>) -> Result<Result<Vec<String>, Refusal>, SourceError> {
        self.0.check(t, c).await
    }
    async fn prepare(&self, capture: &Capture, fresh: bool) -> Result<SlotState, SourceError> {
        self.0.prepare(capture, fresh).await
    }
    async fn slot(&self, capture: &Capture) -> Result<Option<SlotState>, SourceError> {
        self.0.slot(capture).await
    }
    async fn changes(&self, capture: &Capture, request: &ChangeRequest) -> Result<ChangeRead, SourceError> {
        self.0.changes(capture, request).await
    }
    async fn advance(&self, capture: &Capture, to: Lsn) -> Result<(), SourceError> {
        self.0.advance(capture, to).await
    }
    async fn flushed(&self) -> Result<Lsn, SourceError> {
        self.0.flushed().await
    }
    async fn drop_capture(&self, capture: &Capture) -> Result<(), SourceError> {
        self.0.drop_capture(capture).await
    }
}
