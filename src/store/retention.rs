//! Retention: runs (and with them their batches) grow by one per window forever, so old
//! ones are removed. A run is removed only when it is older than the cut-off, beyond the
//! newest `keep` runs of its flow, and nothing depends on it: it succeeded or was re-run
//! (a failed run that is not re-run holds its flow's later windows; a cancelled one is
//! scheduled again if its flow is enabled), and it is not the run its flow's
//! `lastRunDetails` shows. Runs of deleted flows go once they have ended and aged.

use sqlx::Row;

use super::run_record::{RunDetails, RunStatus};
use super::{Store, StoreError};
use crate::identity::Tenant;

/// Most runs removed by one statement, so a first pass over a large table does not hold
/// its locks for long.
const BATCH: i64 = 1_000;

/// A removed run: its id, tenant and the batches its attempts made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrunedRun {
    pub id: String,
    pub tenant: Tenant,
    pub batches: Vec<String>,
}

impl Store {
    /// Removes up to [`BATCH`] runs that retention lets go (see the module docs): updated
    /// before `cutoff` (epoch ms) and beyond the newest `keep` of their flow.
    pub async fn prune_runs(&self, keep: i64, cutoff: i64) -> Result<Vec<PrunedRun>, StoreError> {
        let started = "$4, $5, $6";
        let sql = format!(
            "SELECT id, org, sandbox, doc FROM (SELECT r.id, r.org, r.sandbox, r.doc, r.flow_id, r.window_number, \
               r.status, r.replaced_by, r.updated_at, \
               ROW_NUMBER() OVER (PARTITION BY r.flow_id ORDER BY r.window_number DESC, r.generation DESC) AS newer \
               FROM runs r) t \
             WHERE t.newer > $1 AND t.updated_at < $2 \
               AND (t.status = $3 OR t.replaced_by IS NOT NULL \
                    OR (t.status IN ($5, $6, $7) AND NOT EXISTS \
                        (SELECT 1 FROM resources f WHERE f.kind = 'flow' AND f.id = t.flow_id))) \
               AND t.window_number < COALESCE((SELECT MAX(s.window_number) FROM runs s WHERE s.flow_id = t.flow_id \
                    AND s.replaced_by IS NULL AND s.status IN ({started})), t.window_number + 1) \
             LIMIT {BATCH}"
        );
        let rows = sqlx::query(&sql)
            .bind(keep.max(1))
            .bind(cutoff)
            .bind(RunStatus::Success.as_str())
            .bind(RunStatus::InProgress.as_str())
            .bind(RunStatus::Success.as_str())
            .bind(RunStatus::Failed.as_str())
            .bind(RunStatus::Cancelled.as_str())
            .fetch_all(&self.pool)
            .await?;
        let mut pruned = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let doc: String = row.try_get("doc")?;
            let batches = RunDetails::from_stored(&doc).map(|d| d.batches).unwrap_or_default();
            let tenant = Tenant {
                org: row.try_get("org")?,
                sandbox: row.try_get("sandbox")?,
            };
            pruned.push(PrunedRun { id, tenant, batches });
        }
        let mut tx = self.pool.begin().await?;
        for run in &pruned {
            sqlx::query("DELETE FROM runs WHERE id = $1")
                .bind(&run.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(pruned)
    }
}
