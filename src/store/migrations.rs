//! Schema migrations for both metadata backends. Each entry is applied once, in order,
//! inside a transaction; `{bytes}` stands for the backend's binary column type.

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
];

/// The statements of every migration, rendered for `backend`, numbered from 1.
pub(super) fn rendered(backend: Backend) -> impl Iterator<Item = (i64, String)> {
    let bytes = match backend {
        Backend::Sqlite => "BLOB",
        Backend::Postgres => "BYTEA",
    };
    MIGRATIONS
        .iter()
        .enumerate()
        .map(move |(index, sql)| (index as i64 + 1, sql.replace("{bytes}", bytes)))
}

/// Splits a migration into single statements (the `Any` driver runs one at a time).
pub(super) fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(';').map(str::trim).filter(|s| !s.is_empty())
}
