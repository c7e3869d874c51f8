//! Schema migrations for both metadata backends. Each entry is applied once, in order,
//! inside a transaction; `{bytes}` stands for the backend's binary column type, `{text_c}`
//! for text compared byte by byte (PostgreSQL's "C" collation, SQLite's default), and
//! `{double}` for a double-precision number. A migration may also need data moved in
//! Rust: [`BACKFILL_FIELDS`] names the one that does.

use super::Backend;

/// The migrations, oldest first. Never edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE sandboxes (
    org TEXT NOT NULL,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    sandbox_type TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org, name)
);
CREATE TABLE api_clients (
    client_id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE resources (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    org TEXT NOT NULL,
    sandbox TEXT NOT NULL,
    etag TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    doc TEXT NOT NULL,
    secret {bytes},
    PRIMARY KEY (kind, id)
);
CREATE INDEX resources_by_tenant ON resources (org, sandbox, kind);
"#,
    r#"
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    sandbox TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    window_number BIGINT NOT NULL,
    window_start BIGINT,
    window_end BIGINT,
    status TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    etag TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (flow_id, window_number)
);
CREATE INDEX runs_by_status ON runs (status, due_at);
CREATE INDEX runs_by_tenant ON runs (org, sandbox, created_at)
"#,
    // A window may have several runs (a failed one and its re-run): `generation` counts
    // them, `replaced_by` names the re-run of a failed run, and `retry_at` holds a run
    // back (wall-clock ms) after a transient failure. The table is rebuilt because
    // SQLite cannot drop the old unique constraint in place.
    r#"
CREATE TABLE runs_v3 (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    sandbox TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    window_number BIGINT NOT NULL,
    generation BIGINT NOT NULL,
    window_start BIGINT,
    window_end BIGINT,
    status TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    retry_at BIGINT,
    attempts BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    replaced_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    etag TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (flow_id, window_number, generation)
);
INSERT INTO runs_v3 (id, org, sandbox, flow_id, window_number, generation, window_start, window_end, status,
    due_at, retry_at, attempts, lease_owner, lease_expires_at, replaced_by, created_at, updated_at, etag, doc)
  SELECT id, org, sandbox, flow_id, window_number, 0, window_start, window_end, status,
    due_at, NULL, attempts, lease_owner, lease_expires_at, NULL, created_at, updated_at, etag, doc FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v3 RENAME TO runs;
CREATE INDEX runs_by_status ON runs (status, due_at);
CREATE INDEX runs_by_tenant ON runs (org, sandbox, created_at);
CREATE INDEX runs_by_flow ON runs (flow_id, window_number)
"#,
    // Lists filter, order and page in SQL: resources get their `name` as a column and
    // their values as searchable rows (`fields.rs`), with the indexes lists use.
    r#"
ALTER TABLE resources ADD COLUMN name {text_c} NOT NULL DEFAULT '';
CREATE TABLE resource_fields (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    path TEXT NOT NULL,
    value_kind TEXT NOT NULL,
    str {text_c},
    num {double}
);
CREATE INDEX resource_fields_by_text ON resource_fields (kind, path, str);
CREATE INDEX resource_fields_by_number ON resource_fields (kind, path, num);
CREATE INDEX resource_fields_by_resource ON resource_fields (kind, id);
CREATE INDEX resources_by_created ON resources (org, sandbox, kind, created_at, id);
CREATE INDEX resources_by_updated ON resources (org, sandbox, kind, updated_at, id);
CREATE INDEX resources_by_name ON resources (org, sandbox, kind, name, id);
CREATE INDEX runs_by_flow_created ON runs (flow_id, created_at, id);
CREATE INDEX runs_by_tenant_updated ON runs (org, sandbox, updated_at, id)
"#,
    // Leases on the reading connections to each source server, shared by every process
    // on this store: `slot` counts from 0 below `source_connections` (`store/slots.rs`).
    r#"
CREATE TABLE source_slots (
    server TEXT NOT NULL,
    slot BIGINT NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (server, slot)
)
"#,
    // Re-snapshots of change data capture flows asked for (`store/captures.rs`).
    r#"
CREATE TABLE cdc_resnapshots (
    flow_id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    sandbox TEXT NOT NULL,
    requested_at BIGINT NOT NULL
)
"#,
    // A flow's failed and waiting runs are found without reading its other runs.
    r#"
CREATE INDEX runs_by_flow_status ON runs (flow_id, status, window_number)
"#,
    // The alert outbox: events written with the run change they report, and their
    // deliveries to subscriptions (`store/alerts.rs`).
    r#"
CREATE TABLE alert_events (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    sandbox TEXT NOT NULL,
    kind TEXT NOT NULL,
    flow_id TEXT,
    subscription_id TEXT,
    created_at BIGINT NOT NULL,
    payload TEXT NOT NULL,
    dispatched BIGINT NOT NULL
);
CREATE INDEX alert_events_undispatched ON alert_events (dispatched, created_at);
CREATE TABLE alert_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    org TEXT NOT NULL,
    sandbox TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_code BIGINT,
    last_error TEXT
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_at);
CREATE INDEX alert_deliveries_by_subscription ON alert_deliveries (org, sandbox, subscription_id, created_at)
"#,
    // Maintenance of each dataset's table: the lease of the one process maintaining it,
    // and what its last pass did (`store/maintenance.rs`).
    r#"
CREATE TABLE dataset_maintenance (
    dataset_id TEXT PRIMARY KEY,
    holder TEXT,
    expires_at BIGINT NOT NULL,
    last_at BIGINT,
    last_doc TEXT
)
"#,
    // Each alert subscription's delivery rate window, shared by every process
    // (`store/alert_rate.rs`): when its current minute opened, and how many were sent in it.
    r#"
CREATE TABLE alert_rates (
    subscription_id TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    sent BIGINT NOT NULL
)
"#,
    // Freshness (`store/alert_watch.rs`): the flow-clock second up to which a successful
    // run brought its dataset (`RunRow::landed_up_to`). Successes of before are taken to
    // have landed their window's end, or the time they were due.
    r#"
ALTER TABLE runs ADD COLUMN landed_up_to BIGINT;
UPDATE runs SET landed_up_to = COALESCE(window_end, due_at) WHERE status = 'success';
CREATE INDEX runs_landed ON runs (flow_id, landed_up_to)
"#,
];

/// The migration after which every stored resource's `name` and searchable fields are
/// written from its document.
pub(super) const BACKFILL_FIELDS: i64 = 4;

/// The statements of every migration, rendered for `backend`, numbered from 1.
pub(super) fn rendered(backend: Backend) -> impl Iterator<Item = (i64, String)> {
    let (bytes, text_c, double) = match backend {
        Backend::Sqlite => ("BLOB", "TEXT", "REAL"),
        Backend::Postgres => ("BYTEA", "TEXT COLLATE \"C\"", "DOUBLE PRECISION"),
    };
    MIGRATIONS.iter().enumerate().map(move |(index, sql)| {
        let sql = sql
            .replace("{bytes}", bytes)
            .replace("{text_c}", text_c)
            .replace("{double}", double);
        (index as i64 + 1, sql)
    })
}

/// Splits a migration into single statements (the `Any` driver runs one at a time).
pub(super) fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(';').map(str::trim).filter(|s| !s.is_empty())
}
