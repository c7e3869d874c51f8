//! What the alert watcher reads: flows with runs late past the shortest delay threshold,
//! and flows whose newest landed data is old (or that landed nothing yet), so that every flow is judged by its own thresholds
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

/// A flow whose dataset is older than a cutoff, not reported as stale yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleFlow {
    pub tenant: Tenant,
    pub flow_id: String,
    pub landed: Landed,
}

/// How far a flow's dataset has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Landed {
    /// Up to flow-clock second `up_to`, by run `run_id` (its newest such success).
    UpTo { run_id: String, up_to: i64 },
    /// Nothing yet, although its first run was due at flow-clock second `first_due`.
    Never { first_due: i64 },
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

    /// Flows whose newest landed data is older than flow-clock second `before`, and flows
    /// with nothing landed whose first run was due before it; not reported as stale yet
    /// (`stale-<run>`, `stale-never-<flow>`); oldest first, at most `limit` of each.
    /// One pass over the runs grouped by flow, not one query per run.
    pub async fn stale_flows(&self, before: i64, limit: i64) -> Result<Vec<StaleFlow>, StoreError> {
        // Runs that landed the same second: the greatest id stands for them.
        let landed = sqlx::query(
            "SELECT t.org, t.sandbox, t.flow_id, t.id, t.up_to FROM \
               (SELECT r.org, r.sandbox, r.flow_id, MAX(r.id) AS id, r.landed_up_to AS up_to FROM runs r \
                JOIN (SELECT flow_id, MAX(landed_up_to) AS last FROM runs GROUP BY flow_id) m \
                  ON m.flow_id = r.flow_id AND r.landed_up_to = m.last \
                WHERE m.last < $1 GROUP BY r.org, r.sandbox, r.flow_id, r.landed_up_to) t \
             WHERE NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.id = 'stale-' || t.id) \
             ORDER BY t.up_to LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let never = sqlx::query(
            "SELECT r.org, r.sandbox, r.flow_id, MIN(r.due_at) AS first_due FROM runs r \
             WHERE NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.id = 'stale-never-' || r.flow_id) \
             GROUP BY r.org, r.sandbox, r.flow_id \
             HAVING MAX(r.landed_up_to) IS NULL AND MIN(r.due_at) < $1 ORDER BY first_due LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let tenant = |row: &sqlx::any::AnyRow| -> Result<Tenant, StoreError> {
            Ok(Tenant {
                org: row.try_get("org")?,
                sandbox: row.try_get("sandbox")?,
            })
        };
        let mut stale = Vec::with_capacity(landed.len() + never.len());
        for row in &landed {
            stale.push(StaleFlow {
                tenant: tenant(row)?,
                flow_id: row.try_get("flow_id")?,
                landed: Landed::UpTo {
                    run_id: row.try_get("id")?,
                    up_to: row.try_get("up_to")?,
                },
            });
        }
        for row in &never {
            stale.push(StaleFlow {
                tenant: tenant(row)?,
                flow_id: row.try_get("flow_id")?,
                landed: Landed::Never {
                    first_due: row.try_get("first_due")?,
                },
            });
        }
        Ok(stale)
    }
}
