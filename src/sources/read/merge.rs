//! Partition readers and the one stream their batches come out of.
//!
//! Each partition reader is a tokio task writing to its own bounded channel; the stream
//! interleaves the channels. A full channel makes its reader wait (and so stop reading
//! from its connection, which makes the server wait), so at most `depth` batches per
//! partition wait in channels, plus the one each reader is trying to hand over.
//!
//! Readers start on the stream's first poll, not before: the caller gets a stream whose
//! snapshot is already fixed, and nothing is read until it asks. The first error ends the
//! stream and stops every reader; so does dropping the stream. A reader that stops
//! without saying it finished (a panic) is an error too, never a silently short table.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow_array::RecordBatch;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, SelectAll, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{ReadProgress, SkippedRow};
use crate::sources::{SourceError, SourceErrorKind};

/// What a reader sends.
enum Message {
    Batch(RecordBatch),
    Failed(SourceError),
    Finished,
}

/// Received bytes are added to the shared counter in steps of this size at least (and
/// with every batch), so that partitions do not contend on it for every message.
const BYTES_STEP: u64 = 1 << 20;

/// The sending end a partition reader hands its batches to.
pub struct BatchSender {
    tx: mpsc::Sender<Message>,
    progress: Arc<ReadProgress>,
    unreported_bytes: u64,
}

impl BatchSender {
    /// Counts `bytes` received from the source.
    pub fn received(&mut self, bytes: usize) {
        self.unreported_bytes += bytes as u64;
        if self.unreported_bytes >= BYTES_STEP {
            self.report(0);
        }
    }

    /// Counts the batch's rows and hands it over, waiting while the channel is full.
    /// False when the stream is gone, so the reader can stop.
    pub async fn send(&mut self, batch: RecordBatch) -> bool {
        self.report(batch.num_rows() as u64);
        self.tx.send(Message::Batch(batch)).await.is_ok()
    }

    /// Counts `count` rows skipped, `described` of them described. Readers report them
    /// before they finish, so the counts are complete when the stream ends.
    pub fn skipped(&mut self, count: u64, described: Vec<SkippedRow>) {
        self.progress.add_skipped(count, described);
    }

    fn report(&mut self, rows: u64) {
        self.progress.add(rows, std::mem::take(&mut self.unreported_bytes));
    }
}

impl Drop for BatchSender {
    fn drop(&mut self) {
        self.report(0);
    }
}

/// Collects partition readers, then turns them into one stream.
pub struct Partitions {
    depth: usize,
    progress: Arc<ReadProgress>,
    readers: Vec<BoxFuture<'static, ()>>,
    receivers: Vec<mpsc::Receiver<Message>>,
}

impl Partitions {
    /// Readers whose channels hold `depth` batches each (at least one), counting into
    /// `progress`.
    pub fn new(depth: usize, progress: Arc<ReadProgress>) -> Partitions {
        Partitions {
            depth: depth.max(1),
            progress,
            readers: Vec::new(),
            receivers: Vec::new(),
        }
    }

    /// Adds a reader: `reader` gets the sender for its batches and ends with `Ok` after
    /// the last one, or with the error that stopped it.
    pub fn add<F, Fut>(&mut self, reader: F)
    where
        F: FnOnce(BatchSender) -> Fut,
        Fut: Future<Output = Result<(), SourceError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(self.depth);
        let sender = BatchSender {
            tx: tx.clone(),
            progress: self.progress.clone(),
            unreported_bytes: 0,
        };
        let work = reader(sender);
        self.readers.push(Box::pin(async move {
            let last = match work.await {
                Ok(()) => Message::Finished,
                Err(error) => Message::Failed(error),
            };
            let _ = tx.send(last).await;
        }));
        self.receivers.push(rx);
    }

    /// The batches of every reader, interleaved.
    pub fn into_stream(self) -> BoxStream<'static, Result<RecordBatch, SourceError>> {
        let channels = self.receivers.into_iter().map(|rx| receive(rx).boxed());
        Box::pin(Merged {
            unstarted: self.readers,
            tasks: Vec::new(),
            channels: futures::stream::select_all(channels),
            done: false,
        })
    }
}

/// One channel as a stream of results that ends after `Finished` or an error.
fn receive(rx: mpsc::Receiver<Message>) -> impl Stream<Item = Result<RecordBatch, SourceError>> {
    futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Message::Batch(batch)) => Some((Ok(batch), Some(rx))),
            Some(Message::Failed(error)) => Some((Err(error), None)),
            Some(Message::Finished) => None,
            None => {
                let message = "a partition reader stopped before it finished; the read is incomplete";
                Some((Err(SourceError::new(SourceErrorKind::QueryFailed, message)), None))
            }
        }
    })
}

struct Merged {
    unstarted: Vec<BoxFuture<'static, ()>>,
    tasks: Vec<JoinHandle<()>>,
    channels: SelectAll<BoxStream<'static, Result<RecordBatch, SourceError>>>,
    done: bool,
}

impl Merged {
    fn stop(&mut self) {
        self.done = true;
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Stream for Merged {
    type Item = Result<RecordBatch, SourceError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        for reader in this.unstarted.drain(..) {
            this.tasks.push(tokio::spawn(reader));
        }
        let next = this.channels.poll_next_unpin(cx);
        match &next {
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => this.stop(),
            _ => {}
        }
        next
    }
}

impl Drop for Merged {
    fn drop(&mut self) {
        self.stop();
    }
}
