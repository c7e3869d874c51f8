//! What the alert watcher reads: flows with runs late past the shortest delay threshold,
//! and each flow's newest success, so that every flow is judged by its own thresholds
//! (`inletAlerts`, else the server's) without one flow's backlog hiding another's.

use sqlx::Row;

use super::run_record::RunStatus;
use super::runs::{COLUMNS, RunRow, read_run};
use super::{Store, StoreError};
use crate::identity::Tenant;

/// A flow with runs not ended although due, and not reported as delayed yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateFlow {
    pub tenant: Tenant,
    pub flow_id: String,
    /// The flow clock second its oldest such run was due.
    pub oldest_due_at: i64,
}

/// A flow's newest successful run, not reported as stale yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatestSuccess {
    pub tenant: Tenant,
    pub flow_id: String,
    pub run_id: String,
    /// When it ended (wall-clock milliseconds).
    pub ended_at: i64,
}

impl Store {
    /// Flows with runs not ended although due at flow-clock second `due_before` or
    /// earlier, not reported as delayed yet; one row a flow, oldest first, at most `limit`.
    pub async fn late_flows(&self, due_before: i64, limit: i64) -> Result<Vec<LateFlow>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.org, r.sandbox, r.flow_id, MIN(r.due_at) AS oldest FROM runs r \
             WHERE r.replaced_by IS NULL AND r.status IN ($1, $2) AND r.due_at <= $3 \
             AND NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.id = 'delay-' || r.id) \
             GROUP BY r.org, r.sandbox, r.flow_id ORDER BY oldest LIMIT $4",
        )
        .bind(RunStatus::Scheduled.as_str())
        .bind(RunStatus::InProgress.as_str())
        .bind(due_before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LateFlow {
                    tenant: Tenant {
                        org: row.try_get("org")?,
                        sandbox: row.try_get("sandbox")?,
                    },
                    flow_id: row.try_get("flow_id")?,
                    oldest_due_at: row.try_get("oldest")?,
                })
            })
            .collect()
    }

    /// Runs of flow `flow_id` not ended although due since flow-clock second `due_before`
    /// or earlier, and not reported as delayed yet; at most `limit`.
    pub async fn overdue_runs(&self, flow_id: &str, due_before: i64, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs r WHERE r.flow_id = $1 AND r.replaced_by IS NULL AND r.status IN ($2, $3) \
             AND r.due_at <= $4 AND NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.id = 'delay-' || r.id) \
             ORDER BY r.due_at LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(flow_id)
            .bind(RunStatus::Scheduled.as_str())
            .bind(RunStatus::InProgress.as_str())
            .bind(due_before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(read_run).collect()
    }

    /// Each flow's newest successful run, where it ended before `before` (wall-clock
    /// milliseconds) and was not reported as stale yet; oldest first, at most `limit`.
    /// One pass over the successful runs (grouped by flow), not one per run.
    pub async fn latest_successes(&self, before: i64, limit: i64) -> Result<Vec<LatestSuccess>, StoreError> {
        let rows = sqlx::query(
            // Runs that ended in the same millisecond: the greatest id is the newest, as before.
            "SELECT t.org, t.sandbox, t.flow_id, t.id, t.updated_at FROM \
               (SELECT r.org, r.sandbox, r.flow_id, MAX(r.id) AS id, r.updated_at FROM runs r \
                JOIN (SELECT flow_id, MAX(updated_at) AS last FROM runs WHERE status = $1 GROUP BY flow_id) m \
                  ON m.flow_id = r.flow_id AND r.updated_at = m.last \
                WHERE r.status = $1 AND m.last < $2 \
                GROUP BY r.org, r.sandbox, r.flow_id, r.updated_at) t \
             WHERE NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.id = 'stale-' || t.id) \
             ORDER BY t.updated_at LIMIT $3",
        )
        .bind(RunStatus::Success.as_str())
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LatestSuccess {
                    tenant: Tenant {
                        org: row.try_get("org")?,
                        sandbox: row.try_get("sandbox")?,
                    },
                    flow_id: row.try_get("flow_id")?,
                    run_id: row.try_get("id")?,
                    ended_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }
}
