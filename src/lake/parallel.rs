//! Encoding on every core: one write feeds its batches to several Parquet writers, each on
//! its own tokio task writing its own files. Encoding and compressing take most of a
//! copy's CPU, so one writer would leave a core idle while the source waits on it. The
//! files of all writers go into the write's one Delta commit.

use std::sync::Arc;

use deltalake::DeltaTableError;
use deltalake::kernel::Add;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

use super::LakeError;
use super::arrow::record_batch::RecordBatch;

type Batches = Arc<Mutex<mpsc::Receiver<RecordBatch>>>;

/// Writers taking batches from one queue; [`ParallelWriter::finish`] collects their files.
pub struct ParallelWriter {
    queue: Option<mpsc::Sender<RecordBatch>>,
    writers: JoinSet<Result<Vec<Add>, DeltaTableError>>,
}

impl ParallelWriter {
    /// Starts `writers` (one at least); each takes the next batch when it is free, so a
    /// slow batch on one does not hold the others up. At most one batch waits per writer.
    pub fn start(writers: Vec<RecordBatchWriter>) -> ParallelWriter {
        let (queue, receiver) = mpsc::channel(writers.len().max(1));
        let receiver: Batches = Arc::new(Mutex::new(receiver));
        let mut tasks = JoinSet::new();
        for writer in writers {
            tasks.spawn(encode(writer, receiver.clone()));
        }
        ParallelWriter {
            queue: Some(queue),
            writers: tasks,
        }
    }

    /// Hands `batch` to the next free writer. Fails when a writer has failed (the others
    /// stop taking batches then), with that writer's error.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), LakeError> {
        let queue = self.queue.as_ref().expect("no write after finish");
        if queue.send(batch).await.is_err() {
            return Err(match self.join().await {
                Err(error) => error,
                Ok(_) => LakeError::Input("the Parquet writers stopped without saying why".into()),
            });
        }
        Ok(())
    }

    /// Waits for every writer to close its files; their `add` actions, in no set order.
    pub async fn finish(mut self) -> Result<Vec<Add>, LakeError> {
        self.join().await
    }

    /// Closes the queue and waits for the writers: their files, or the first error.
    async fn join(&mut self) -> Result<Vec<Add>, LakeError> {
        self.queue = None;
        let mut adds = Vec::new();
        while let Some(joined) = self.writers.join_next().await {
            match joined {
                Ok(Ok(files)) => adds.extend(files),
                Ok(Err(error)) => return Err(error.into()),
                Err(panic) => return Err(LakeError::Input(format!("a Parquet writer stopped: {panic}").into())),
            }
        }
        Ok(adds)
    }
}

/// Dropping the writer (a failed input, a cancelled write) aborts every task; an aborted
/// task drops its `RecordBatchWriter`, which aborts its open upload. Files it had already
/// closed stay behind outside the log, like those of any write that does not commit.
impl Drop for ParallelWriter {
    fn drop(&mut self) {
        self.writers.abort_all();
    }
}

/// One writer's loop: batches until the queue closes, then its files.
async fn encode(mut writer: RecordBatchWriter, batches: Batches) -> Result<Vec<Add>, DeltaTableError> {
    loop {
        let next = batches.lock().await.recv().await;
        let Some(batch) = next else { break };
        if let Err(error) = writer.write(batch).await {
            // Closing the queue makes the next `write` fail and fetch this error.
            batches.lock().await.close();
            writer.reset();
            return Err(error);
        }
    }
    writer.flush().await
}
