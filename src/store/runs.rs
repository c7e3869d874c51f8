//! Runs: one row per run of a flow's window. A window's first run has generation 0; a
//! re-run of a failed one (`op=re-trigger`) is a new row of the next generation, and the
//! failed row names it in `replaced_by`. Claims, leases and outcomes are in `claims.rs`.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::run_record::{RunDetails, RunStatus};
use super::{Store, StoreError};
use crate::identity::Tenant;

/// A run as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub id: String,
    pub tenant: Tenant,
    pub flow_id: String,
    /// The window's number: its Delta `txn` version, and its place in the flow's order.
    pub window_number: i64,
    /// 0 for a window's first run, one more for each re-run.
    pub generation: i64,
    pub window_start: Option<i64>,
    pub window_end: Option<i64>,
    pub status: RunStatus,
    /// Flow-clock seconds at which the run may start.
    pub due_at: i64,
    /// Wall-clock milliseconds before which a run waiting for a retry is not claimed.
    pub retry_at: Option<i64>,
    /// Claims so far, across every process.
    pub attempts: i64,
    pub lease_owner: Option<String>,
    /// Wall-clock milliseconds at which the lease lapses.
    pub lease_expires_at: Option<i64>,
    /// The run that re-runs this (failed) one.
    pub replaced_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub etag: String,
    pub details: RunDetails,
}

impl RunRow {
    /// The flow-clock second up to which this run brought its dataset, if it succeeded: its
    /// window's end (for a delta column, the rows before it; a full copy or a change run
    /// reads at or after it), or, for a window without an end (`once`), when it was due.
    /// `None` for a change run that stopped with changes still waiting
    /// (`cdc_changes_per_run`): its position is older than its window, by an unknown time.
    pub fn landed_up_to(&self) -> Option<i64> {
        let behind = self.details.cdc.as_ref().is_some_and(|cdc| cdc.more_waiting);
        (self.status == RunStatus::Success && !behind).then(|| self.window_end.unwrap_or(self.due_at))
    }
}

/// The last window a flow has a run for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastWindow {
    pub number: i64,
    pub end: Option<i64>,
}

pub(super) const COLUMNS: &str = "id, org, sandbox, flow_id, window_number, generation, window_start, window_end, \
    status, due_at, retry_at, attempts, lease_owner, lease_expires_at, replaced_by, created_at, updated_at, etag, doc";

/// Runs that hold the flow's current state of a window: not replaced by a re-run.
const LIVE: &str = "replaced_by IS NULL";

impl Store {
    /// Records a run unless its window already has one of its generation; true if inserted.
    pub async fn insert_run(&self, run: &RunRow) -> Result<bool, StoreError> {
        Ok(insert(&self.pool, run).await? == 1)
    }

    /// Records `retry` as the re-run of the failed run `failed_id`, in one transaction:
    /// false (and nothing written) unless that run is still failed and not re-run yet.
    pub async fn insert_retry(&self, failed_id: &str, retry: &RunRow) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query(&format!(
            "UPDATE runs SET replaced_by = $1, updated_at = $2 WHERE id = $3 AND status = $4 AND {LIVE}"
        ))
        .bind(&retry.id)
        .bind(retry.created_at)
        .bind(failed_id)
        .bind(RunStatus::Failed.as_str())
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 || insert(&mut *tx, retry).await? != 1 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The flow's last window with a run, if any.
    pub async fn last_window(&self, flow_id: &str) -> Result<Option<LastWindow>, StoreError> {
        let row = sqlx::query(
            "SELECT window_number, window_end FROM runs WHERE flow_id = $1 ORDER BY window_number DESC LIMIT 1",
        )
        .bind(flow_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(LastWindow {
                number: row.try_get("window_number")?,
                end: row.try_get("window_end")?,
            })
        })
        .transpose()
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

    /// The flow's earliest window whose run failed and was not re-run: every later window
    /// waits for it.
    pub async fn first_failed_run(&self, flow_id: &str) -> Result<Option<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE flow_id = $1 AND status = $2 AND {LIVE} ORDER BY window_number LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(flow_id)
            .bind(RunStatus::Failed.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| read_run(&r)).transpose()
    }

    /// How many of the flow's runs wait behind window `number`.
    pub async fn count_waiting_after(&self, flow_id: &str, number: i64) -> Result<i64, StoreError> {
        let sql =
            format!("SELECT COUNT(*) FROM runs WHERE flow_id = $1 AND window_number > $2 AND status = $3 AND {LIVE}");
        Ok(sqlx::query_scalar(&sql)
            .bind(flow_id)
            .bind(number)
            .bind(RunStatus::Scheduled.as_str())
            .fetch_one(&self.pool)
            .await?)
    }

    /// The flow's run for `lastRunDetails`: the latest window whose run started (the one in
    /// progress, or the last that ended), else the latest scheduled one.
    pub async fn last_run(&self, flow_id: &str) -> Result<Option<RunRow>, StoreError> {
        // Two queries that each walk the (flow, window) index from the newest window and
        // stop at the first match, instead of one that sorts every run of the flow.
        let started = format!(
            "SELECT {COLUMNS} FROM runs WHERE flow_id = $1 AND {LIVE} AND status NOT IN ($2, $3) \
             ORDER BY window_number DESC LIMIT 1"
        );
        let row = sqlx::query(&started)
            .bind(flow_id)
            .bind(RunStatus::Scheduled.as_str())
            .bind(RunStatus::Cancelled.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let row = match row {
            Some(row) => Some(row),
            None => {
                let newest = format!(
                    "SELECT {COLUMNS} FROM runs WHERE flow_id = $1 AND {LIVE} ORDER BY window_number DESC LIMIT 1"
                );
                sqlx::query(&newest).bind(flow_id).fetch_optional(&self.pool).await?
            }
        };
        row.map(|r| read_run(&r)).transpose()
    }

    /// Cancels the flow's runs that have not started (its flow was disabled or deleted).
    pub async fn cancel_scheduled_runs(&self, flow_id: &str, now: i64) -> Result<u64, StoreError> {
        self.move_runs(flow_id, RunStatus::Scheduled, RunStatus::Cancelled, now)
            .await
    }

    /// Schedules the flow's cancelled runs again (its flow was enabled again), so that no
    /// window is skipped.
    pub async fn resume_cancelled_runs(&self, flow_id: &str, now: i64) -> Result<u64, StoreError> {
        self.move_runs(flow_id, RunStatus::Cancelled, RunStatus::Scheduled, now)
            .await
    }

    async fn move_runs(&self, flow_id: &str, from: RunStatus, to: RunStatus, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE runs SET status = $1, updated_at = $2 WHERE flow_id = $3 AND status = $4")
            .bind(to.as_str())
            .bind(now)
            .bind(flow_id)
            .bind(from.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

async fn insert<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(executor: E, run: &RunRow) -> Result<u64, StoreError> {
    let sql = format!(
        "INSERT INTO runs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
         $17, $18, $19) ON CONFLICT (flow_id, window_number, generation) DO NOTHING"
    );
    let done = sqlx::query(&sql)
        .bind(&run.id)
        .bind(&run.tenant.org)
        .bind(&run.tenant.sandbox)
        .bind(&run.flow_id)
        .bind(run.window_number)
        .bind(run.generation)
        .bind(run.window_start)
        .bind(run.window_end)
        .bind(run.status.as_str())
        .bind(run.due_at)
        .bind(run.retry_at)
        .bind(run.attempts)
        .bind(&run.lease_owner)
        .bind(run.lease_expires_at)
        .bind(&run.replaced_by)
        .bind(run.created_at)
        .bind(run.updated_at)
        .bind(&run.etag)
        .bind(run.details.to_stored())
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}

pub(super) fn read_run(row: &AnyRow) -> Result<RunRow, StoreError> {
    let status: String = row.try_get("status")?;
    let doc: String = row.try_get("doc")?;
    Ok(RunRow {
        id: row.try_get("id")?,
        tenant: Tenant {
            org: row.try_get("org")?,
            sandbox: row.try_get("sandbox")?,
        },
        flow_id: row.try_get("flow_id")?,
        window_number: row.try_get("window_number")?,
        generation: row.try_get("generation")?,
        window_start: row.try_get("window_start")?,
        window_end: row.try_get("window_end")?,
        status: RunStatus::parse(&status).ok_or_else(|| StoreError::Invalid(format!("run status `{status}`")))?,
        due_at: row.try_get("due_at")?,
        retry_at: row.try_get("retry_at")?,
        attempts: row.try_get("attempts")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        replaced_by: row.try_get("replaced_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        etag: row.try_get("etag")?,
        details: RunDetails::from_stored(&doc)?,
    })
}
