//! Followers: the runs of a flow's next windows that the worker holding its current window
//! lands in the same commit (catch-up, see `flows/followers.rs`). They are claimed under
//! the same owner and lease as the run that leads them. No other worker can claim them
//! meanwhile anyway: a flow's run is claimed only when no earlier window of it is
//! unfinished, and the leading run is.

use crate::alerts::AlertEvent;

use super::alerts::insert_event;
use super::claims::{Lease, WallTimes, update_held_run};
use super::run_record::RunStatus;
use super::runs::{COLUMNS, RunRow, read_run};
use super::{Store, StoreError};

impl Store {
    /// Up to `limit` runs of `lead`'s flow after its window, in window order, not
    /// replaced: the candidates a caller picks followers from.
    pub async fn runs_after(&self, lead: &RunRow, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs r WHERE r.flow_id = $1 AND r.window_number > $2 \
             AND r.replaced_by IS NULL ORDER BY r.window_number LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(&lead.flow_id)
            .bind(lead.window_number)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(read_run).collect()
    }

    /// Claims `runs` for `owner`, in order, each only while still scheduled and never
    /// attempted; stops at the first that is not. Returns the runs claimed, as stored.
    pub async fn claim_followers(
        &self,
        runs: &[RunRow],
        owner: &str,
        wall: WallTimes,
    ) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            "UPDATE runs SET lease_owner = $1, lease_expires_at = $2, updated_at = $3, status = $4, \
             attempts = attempts + 1 WHERE id = $5 AND status = $6 AND attempts = 0 AND replaced_by IS NULL \
             RETURNING {COLUMNS}"
        );
        let mut tx = self.pool.begin().await?;
        let mut claimed = Vec::new();
        for run in runs {
            let row = sqlx::query(&sql)
                .bind(owner)
                .bind(wall.lease_until)
                .bind(wall.now)
                .bind(RunStatus::InProgress.as_str())
                .bind(&run.id)
                .bind(RunStatus::Scheduled.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            match row {
                Some(row) => claimed.push(read_run(&row)?),
                None => break,
            }
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Extends `owner`'s leases on `runs`; how many it still held.
    pub async fn renew_leases(&self, runs: &[&str], owner: &str, lease_until: i64) -> Result<usize, StoreError> {
        let mut renewed = 0;
        for run in runs {
            renewed += usize::from(self.renew_lease(run, owner, lease_until).await?);
        }
        Ok(renewed)
    }

    /// Gives claimed followers back untouched: scheduled again, their claim not counted.
    pub async fn release_followers(&self, runs: &[RunRow], owner: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for run in runs {
            sqlx::query(
                "UPDATE runs SET status = $1, attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL, \
                 updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND status = $5",
            )
            .bind(RunStatus::Scheduled.as_str())
            .bind(now)
            .bind(&run.id)
            .bind(owner)
            .bind(RunStatus::InProgress.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Saves runs `owner` holds, each with its events, in one transaction, doing `lease`
    /// with their leases; how many were still held (the others are left as they are).
    pub async fn save_runs_with_events(
        &self,
        runs: &[(RunRow, Vec<AlertEvent>)],
        owner: &str,
        lease: Lease,
    ) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut saved = 0;
        for (run, events) in runs {
            if update_held_run(&mut *tx, run, owner, lease).await? != 1 {
                continue;
            }
            for event in events {
                insert_event(&mut *tx, event, "").await?;
            }
            saved += 1;
        }
        tx.commit().await?;
        Ok(saved)
    }
}
