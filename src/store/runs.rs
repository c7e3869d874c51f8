//! Runs: one row per (flow, window), claimed by workers with a lease. On PostgreSQL a
//! claim skips rows another process holds locked (`FOR UPDATE SKIP LOCKED`); on SQLite
//! writers are serialised by the database, which gives the same one-winner outcome.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, StoreError};
use crate::identity::Tenant;

/// A run as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub id: String,
    pub tenant: Tenant,
    pub flow_id: String,
    pub window_number: i64,
    pub window_start: Option<i64>,
    pub window_end: Option<i64>,
    /// `scheduled`, `inProgress`, `success`, `failed` or `cancelled`.
    pub status: String,
    /// Flow-clock seconds at which the run may start.
    pub due_at: i64,
    pub attempts: i64,
    pub lease_owner: Option<String>,
    /// Wall-clock milliseconds at which the lease lapses.
    pub lease_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub etag: String,
    /// The run's API item (metrics, activities, errors).
    pub doc: Value,
}

const COLUMNS: &str = "id, org, sandbox, flow_id, window_number, window_start, window_end, status, due_at, attempts, \
                       lease_owner, lease_expires_at, created_at, updated_at, etag, doc";

impl Store {
    /// Records a run unless its flow already has one for that window; true if inserted.
    pub async fn insert_run(&self, run: &RunRow) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO runs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (flow_id, window_number) DO NOTHING"
        );
        let done = sqlx::query(&sql)
            .bind(&run.id)
            .bind(&run.tenant.org)
            .bind(&run.tenant.sandbox)
            .bind(&run.flow_id)
            .bind(run.window_number)
            .bind(run.window_start)
            .bind(run.window_end)
            .bind(&run.status)
            .bind(run.due_at)
            .bind(run.attempts)
            .bind(&run.lease_owner)
            .bind(run.lease_expires_at)
            .bind(run.created_at)
            .bind(run.updated_at)
            .bind(&run.etag)
            .bind(serde_json::to_string(&run.doc)?)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The highest window number the flow has a run for (0 when none).
    pub async fn last_window(&self, flow_id: &str) -> Result<i64, StoreError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(window_number) FROM runs WHERE flow_id = $1")
            .bind(flow_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(last.unwrap_or(0))
    }

    /// Claims the next run that is due (`due_at <= flow_now`) or whose lease lapsed
    /// (`lease_expires_at < wall_now`), for `owner` until `lease_until`.
    pub async fn claim_run(
        &self,
        owner: &str,
        flow_now: i64,
        wall_now: i64,
        lease_until: i64,
    ) -> Result<Option<RunRow>, StoreError> {
        let lock = if self.backend == Backend::Postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE runs SET lease_owner = $1, lease_expires_at = $2, updated_at = $3, status = 'inProgress', \
             attempts = attempts + 1 WHERE id = (SELECT id FROM runs WHERE (status = 'scheduled' AND due_at <= $4) \
             OR (status = 'inProgress' AND lease_expires_at < $3) ORDER BY due_at, window_number LIMIT 1 {lock}) \
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(wall_now)
            .bind(flow_now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| read_run(&r)).transpose()
    }

    /// Extends `owner`'s lease; false if the lease was lost (another worker took the run).
    pub async fn renew_lease(&self, run_id: &str, owner: &str, lease_until: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'inProgress'",
        )
        .bind(lease_until)
        .bind(run_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Saves the run's status and document while `owner` holds it; `release` gives the
    /// lease up (a finished run, or one postponed to `due_at`). False if the lease was lost.
    pub async fn save_run(&self, run: &RunRow, owner: &str, release: bool) -> Result<bool, StoreError> {
        let release_sql = if release {
            ", lease_owner = NULL, lease_expires_at = NULL"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE runs SET status = $1, doc = $2, updated_at = $3, etag = $4, due_at = $5{release_sql} \
             WHERE id = $6 AND lease_owner = $7"
        );
        let done = sqlx::query(&sql)
            .bind(&run.status)
            .bind(serde_json::to_string(&run.doc)?)
            .bind(run.updated_at)
            .bind(&run.etag)
            .bind(run.due_at)
            .bind(&run.id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The tenant's run `id`.
    pub async fn get_run(&self, tenant: &Tenant, id: &str) -> Result<Option<RunRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = $1 AND org = $2 AND sandbox = $3");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(&tenant.org)
            .bind(&tenant.sandbox)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| read_run(&r)).transpose()
    }

    /// The tenant's runs, oldest first.
    pub async fn list_runs(&self, tenant: &Tenant) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM runs WHERE org = $1 AND sandbox = $2 ORDER BY created_at, id");
        let rows = sqlx::query(&sql)
            .bind(&tenant.org)
            .bind(&tenant.sandbox)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(read_run).collect()
    }

    /// Cancels the flow's runs that have not started.
    pub async fn cancel_scheduled_runs(&self, flow_id: &str, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET status = 'cancelled', updated_at = $1 WHERE flow_id = $2 AND status = 'scheduled'",
        )
        .bind(now)
        .bind(flow_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

fn read_run(row: &AnyRow) -> Result<RunRow, StoreError> {
    let doc: String = row.try_get("doc")?;
    Ok(RunRow {
        id: row.try_get("id")?,
        tenant: Tenant {
            org: row.try_get("org")?,
            sandbox: row.try_get("sandbox")?,
        },
        flow_id: row.try_get("flow_id")?,
        window_number: row.try_get("window_number")?,
        window_start: row.try_get("window_start")?,
        window_end: row.try_get("window_end")?,
        status: row.try_get("status")?,
        due_at: row.try_get("due_at")?,
        attempts: row.try_get("attempts")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        etag: row.try_get("etag")?,
        doc: serde_json::from_str(&doc)?,
    })
}
