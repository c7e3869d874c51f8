//! What the engine's unit tests give it instead of a database and a lake: a source that
//! serves rows from memory (and can fail), a target that commits to memory with the same
//! txn rules as the lake, a clock the test moves, and a real SQLite metadata store with a
//! flow, its connections and its dataset in it.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Value, json};

use super::feed::SharedFeed;
use crate::connections::secrets::SecretCipher;
use crate::flows::clock::Clock;
use crate::flows::engine::{Engine, RunSettings};

use crate::flows::slots::{SlotSettings, SourceSlots};
use crate::flows::source_factory::SourceFactory;

pub use super::memory_target::{Commit, MemoryTarget, schema};
use crate::identity::{Caller, Tenant, keys::Key};
use crate::metrics::Metrics;
use crate::secret::Secret;
use crate::sources::changes::ChangeFeed;
use crate::sources::config::SourceConfig;
use crate::sources::read::{ReadProgress, ReadRequest, ReadStream};
use crate::sources::schema::{TableEntry, TableSchema};
use crate::sources::source::{PreviewRow, Source};
use crate::sources::{SourceError, SourceErrorKind, TableRef};
use crate::specs::SpecCatalog;
use crate::store::{ResourceRow, Store};

/// A clock the test sets: flow seconds and wall milliseconds.
#[derive(Default)]
pub struct TestClock {
    pub now: AtomicI64,
    pub wall: AtomicI64,
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
    fn wall_millis(&self) -> i64 {
        self.wall.load(Ordering::SeqCst)
    }
}

/// Rows `(id, ts µs)` of one table, and how reads of it fail.
#[derive(Default)]
pub struct Rows {
    pub rows: Mutex<Vec<(i64, i64)>>,
    /// A read that meets this id fails with a value the lake cannot hold (permanent).
    pub poison: Mutex<Option<i64>>,
    /// The next reads that fail with a lost connection (transient).
    pub transient_failures: AtomicUsize,
    /// Every read asked for, in order.
    pub requests: Mutex<Vec<ReadRequest>>,
    /// The source's change feed, once a test gives it one (`cdc.rs`).
    pub feed: std::sync::OnceLock<Arc<dyn ChangeFeed>>,
}

struct MemorySource(Arc<Rows>);

#[async_trait]
impl Source for MemorySource {
    async fn test(&self) -> Result<(), SourceError> {
        Ok(())
    }
    async fn key(&self, _: &TableRef) -> Result<Vec<String>, SourceError> {
        Ok(vec!["id".into()])
    }
    fn change_feed(&self) -> Option<Box<dyn ChangeFeed>> {
        let feed = self.0.feed.get()?.clone();
        Some(Box::new(SharedFeed(feed)))
    }
    async fn list_tables(&self) -> Result<Vec<TableEntry>, SourceError> {
        Ok(Vec::new())
    }
    async fn describe(&self, _: &TableRef) -> Result<TableSchema, SourceError> {
        unimplemented!("runs do not describe")
    }
    async fn preview(&self, _: &TableRef, _: usize) -> Result<(TableSchema, Vec<PreviewRow>), SourceError> {
        unimplemented!("runs do not preview")
    }
    async fn clock(&self) -> Result<i64, SourceError> {
        Ok(i64::MAX / 2)
    }
    async fn read(&self, request: &ReadRequest) -> Result<ReadStream, SourceError> {
        self.0.requests.lock().unwrap().push(request.clone());
        let failing = self.0.transient_failures.load(Ordering::SeqCst);
        if failing > 0 {
            self.0.transient_failures.store(failing - 1, Ordering::SeqCst);
            return Err(SourceError::new(
                SourceErrorKind::ConnectionLost,
                "the connection broke",
            ));
        }
        let (start, end) = match &request.window {
            Some(window) => (window.start.unwrap_or(i64::MIN), window.end.unwrap_or(i64::MAX)),
            None => (i64::MIN, i64::MAX),
        };
        let rows: Vec<(i64, i64)> = self
            .0
            .rows
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|(_, ts)| (start..end).contains(ts))
            .collect();
        let poison = *self.0.poison.lock().unwrap();
        let progress = Arc::new(ReadProgress::default());
        progress.add(rows.len() as u64, 16 * rows.len() as u64);
        let item = match poison.filter(|p| rows.iter().any(|(id, _)| id == p)) {
            Some(id) => Err(SourceError::new(
                SourceErrorKind::Unsupported,
                format!("public.t.ts of row {id} is infinite"),
            )),
            None => Ok(batch(&rows)),
        };
        Ok(ReadStream {
            table: TableSchema {
                table: request.table.clone(),
                columns: Vec::new(),
            },
            schema: schema(),
            batches: futures::stream::iter([item]).boxed(),
            progress,
            estimated_rows: None,
        })
    }
}

fn batch(rows: &[(i64, i64)]) -> RecordBatch {
    let ids = Int64Array::from_iter_values(rows.iter().map(|r| r.0));
    let ts = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1)).with_timezone("UTC");
    RecordBatch::try_new(schema(), vec![Arc::new(ids), Arc::new(ts)]).unwrap()
}

/// Opens [`MemorySource`]s over one table, whatever the connection.
pub struct MemorySources(pub Arc<Rows>);

impl SourceFactory for MemorySources {
    fn open(&self, _: SourceConfig) -> Box<dyn Source> {
        Box::new(MemorySource(self.0.clone()))
    }
}

/// A store with one flow, its connections and dataset, and an engine over the fakes.
pub struct Lab {
    pub engine: Arc<Engine>,
    pub rows: Arc<Rows>,
    pub target: Arc<MemoryTarget>,
    pub clock: Arc<TestClock>,
    pub tenant: Tenant,
    pub flow_id: String,
    pub dataset_id: String,
    _dir: tempfile::TempDir,
}

/// Attempts a run gets in the tests' settings.
pub const ATTEMPTS: u32 = 3;
/// The lease, in wall milliseconds.
pub const LEASE_MS: i64 = 30_000;

impl Lab {
    /// A flow with `schedule` and `transformations` (`Copy` with a delta column or none),
    /// each window landed in its own commit.
    pub async fn new(schedule: Value, transformations: Value) -> Lab {
        Lab::catching_up(schedule, transformations, 1).await
    }

    /// [`Lab::new`], landing up to `windows` consecutive due windows in one commit.
    pub async fn catching_up(schedule: Value, transformations: Value, windows: u32) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).await.unwrap();
        let cipher = SecretCipher::new(&Key::parse(&Secret::new("11".repeat(32))).unwrap());
        let specs = Arc::new(SpecCatalog::new());
        let tenant = Tenant {
            org: "ORG@AdobeOrg".into(),
            sandbox: "prod".into(),
        };
        let clock = Arc::new(TestClock::default());
        clock.wall.store(1_000_000, Ordering::SeqCst);
        let lab_ids = insert_flow(&store, &cipher, &specs, &tenant, schedule, transformations).await;
        let rows = Arc::new(Rows::default());
        let target = Arc::new(MemoryTarget::default());
        let slots = SlotSettings {
            limit: 4,
            lease: std::time::Duration::from_millis(LEASE_MS as u64),
            poll: std::time::Duration::from_millis(10),
        };
        let slots = Arc::new(SourceSlots::new(store.clone(), clock.clone(), slots, "tests"));
        let engine = Engine {
            store,
            cipher,
            specs,
            sources: Arc::new(MemorySources(rows.clone())),
            target: target.clone(),
            clock: clock.clone(),
            slots,
            metrics: Arc::new(Metrics::new()),
            settings: RunSettings {
                settle_lag: std::time::Duration::ZERO,
                batch_rows: 1024,
                source_partitions: 1,
                run_attempts: ATTEMPTS,
                retry_backoff: std::time::Duration::from_secs(2),
                run_lease: std::time::Duration::from_millis(LEASE_MS as u64),
                poll_interval: std::time::Duration::from_millis(10),
                cdc_changes_per_run: 1000,
                slot_lag_alert_bytes: u64::MAX,
                catch_up_windows: windows,
            },
        };
        Lab {
            engine: Arc::new(engine),
            rows,
            target,
            clock,
            tenant,
            flow_id: lab_ids.0,
            dataset_id: lab_ids.1,
            _dir: dir,
        }
    }

    pub fn store(&self) -> &Store {
        &self.engine.store
    }

    /// Moves the wall clock on by `ms`.
    pub fn wait(&self, ms: i64) {
        self.clock.wall.fetch_add(ms, Ordering::SeqCst);
    }
}

/// Inserts a base connection (sealed secrets), a source and a target connection, a
/// dataset and the flow; returns (flow id, dataset id).
async fn insert_flow(
    store: &Store,
    cipher: &SecretCipher,
    specs: &SpecCatalog,
    tenant: &Tenant,
    schedule: Value,
    transformations: Value,
) -> (String, String) {
    use crate::connections::{ConnectionInput, document, record_binding, seal_params};
    let caller = Caller {
        tenant: tenant.clone(),
        client_id: "client".into(),
        subject: "tester".into(),
    };
    let body = json!({"name": "db", "connectionSpec": {"id": "74a1c565-4e59-48d7-9d67-7c03b8a13137"},
        "auth": {"specName": "Basic Authentication", "params": {"server": "db.example.com", "database": "shop",
            "username": "reader", "password": "pw", "sslMode": "Disable"}}});
    let (input, auth) = ConnectionInput::from_body(&body).unwrap().checked(specs).unwrap();
    let (masked, sealed) = seal_params(cipher, auth, &input.params, &record_binding(tenant, "base"));
    let base_doc = document("base", &caller, &input, &masked, "\"e\"", 0, &tenant.sandbox_id());
    let dataset = crate::catalog::create_dataset(
        store,
        &caller,
        &crate::catalog::DatasetInput::from_body(&json!({"name": "events"})).unwrap(),
    )
    .await
    .unwrap();
    let docs = [
        ("connection", "base", base_doc, sealed),
        (
            "sourceConnection",
            "source",
            json!({"id": "source", "baseConnectionId": "base", "params": {"tableName": "public.t"}}),
            None,
        ),
        (
            "targetConnection",
            "target",
            json!({"id": "target", "params": {"dataSetId": dataset}}),
            None,
        ),
        (
            "flow",
            "flow-1",
            json!({"id": "flow-1", "name": "f", "state": "enabled", "sourceConnectionIds": ["source"],
            "targetConnectionIds": ["target"], "transformations": transformations, "scheduleParams": schedule}),
            None,
        ),
    ];
    for (kind, id, doc, secret) in docs {
        let row = ResourceRow {
            kind: kind.into(),
            id: id.into(),
            tenant: tenant.clone(),
            etag: "\"e\"".into(),
            created_at: 0,
            updated_at: 0,
            doc,
            secret,
        };
        store.insert_resource(&row).await.unwrap();
    }
    ("flow-1".into(), dataset)
}
