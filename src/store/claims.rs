//! Claims: how workers of any number of processes take runs, hold them with a lease, and
//! record how they ended.
//!
//! A flow's windows land in window order: a run can be claimed only when every earlier
//! window of its flow has a successful run (runs replaced by a re-run do not count). So
//! "the table's txn version for this flow is at least my window" means exactly "my
//! window landed", and a failed window holds the later ones back until it is re-run.
//!
//! On PostgreSQL a claim skips rows another process holds locked (`FOR UPDATE SKIP
//! LOCKED`); on SQLite writers are serialised by the database, which gives the same
//! one-winner outcome. A window that turned `success` stays so, which is what makes the
//! ordering check safe on a snapshot.

use super::run_record::RunStatus;
use super::runs::{COLUMNS, RunRow, read_run};
use super::{Backend, Store, StoreError};

/// Wall-clock milliseconds of a claim: now, and when the lease it takes lapses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WallTimes {
    pub now: i64,
    pub lease_until: i64,
}

/// What saving a held run does with its lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// Keep holding it (progress while running).
    Keep,
    /// Give it up: the run ended, or waits again (postponed, or a retry after a backoff).
    Release,
}

impl Store {
    /// Claims for `owner` the next run that may start: due by the flow clock (and past its
    /// retry time), or held by a lease that lapsed, and whose flow's earlier windows have
    /// all landed. Each claim counts as an attempt. The earlier windows are checked by
    /// the statuses other than success (`runs_by_flow_status`), so a claim reads the
    /// flow's unfinished runs, never all of its past ones: its cost stays flat as the flow
    /// ages.
    pub async fn claim_run(&self, owner: &str, flow_now: i64, wall: WallTimes) -> Result<Option<RunRow>, StoreError> {
        let lock = if self.backend == Backend::Postgres {
            "FOR UPDATE OF r SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE runs SET lease_owner = $1, lease_expires_at = $2, updated_at = $3, status = $4, \
             attempts = attempts + 1 WHERE id = (\
               SELECT r.id FROM runs r WHERE r.replaced_by IS NULL \
               AND ((r.status = $5 AND r.due_at <= $6 AND (r.retry_at IS NULL OR r.retry_at <= $3)) \
                    OR (r.status = $4 AND r.lease_expires_at < $3)) \
               AND NOT EXISTS (SELECT 1 FROM runs e WHERE e.flow_id = r.flow_id \
                    AND e.status IN ($4, $5, $7, $8) \
                    AND e.window_number < r.window_number AND e.replaced_by IS NULL) \
               ORDER BY r.due_at, r.window_number LIMIT 1 {lock}) \
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(owner)
            .bind(wall.lease_until)
            .bind(wall.now)
            .bind(RunStatus::InProgress.as_str())
            .bind(RunStatus::Scheduled.as_str())
            .bind(flow_now)
            .bind(RunStatus::Failed.as_str())
            .bind(RunStatus::Cancelled.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| read_run(&r)).transpose()
    }

    /// Extends `owner`'s lease; false if the lease was lost (another worker took the run).
    pub async fn renew_lease(&self, run_id: &str, owner: &str, lease_until: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE runs SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 AND status = $4")
                .bind(lease_until)
                .bind(run_id)
                .bind(owner)
                .bind(RunStatus::InProgress.as_str())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Saves the status, details, times and attempts of a run `owner` holds. False if the
    /// lease was lost meanwhile (nothing is written then).
    pub async fn save_run(&self, run: &RunRow, owner: &str, lease: Lease) -> Result<bool, StoreError> {
        Ok(update_held_run(&self.pool, run, owner, lease).await? == 1)
    }
}

/// The update behind [`Store::save_run`], on any executor (a transaction's too); the rows
/// it changed (1, or 0 when the lease was lost).
pub(super) async fn update_held_run<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    run: &RunRow,
    owner: &str,
    lease: Lease,
) -> Result<u64, StoreError> {
    let release = match lease {
        Lease::Keep => "",
        Lease::Release => ", lease_owner = NULL, lease_expires_at = NULL",
    };
    let sql = format!(
        "UPDATE runs SET status = $1, doc = $2, updated_at = $3, etag = $4, due_at = $5, retry_at = $6, \
         attempts = $7, landed_up_to = $8{release} WHERE id = $9 AND lease_owner = $10 AND status = $11"
    );
    let done = sqlx::query(&sql)
        .bind(run.status.as_str())
        .bind(run.details.to_stored())
        .bind(run.updated_at)
        .bind(&run.etag)
        .bind(run.due_at)
        .bind(run.retry_at)
        .bind(run.attempts)
        .bind(run.landed_up_to())
        .bind(&run.id)
        .bind(owner)
        .bind(RunStatus::InProgress.as_str())
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}
