//! Re-snapshots asked for on change data capture flows (`op=resnapshot`): the flow's next
//! run drops its replication slot, creates it anew and copies the table again; the
//! request is forgotten once that snapshot has landed.

use super::{Store, StoreError};
use crate::identity::Tenant;

impl Store {
    /// Asks for a re-snapshot of `flow_id` at `at` (epoch seconds); a later ask replaces it.
    pub async fn request_resnapshot(&self, tenant: &Tenant, flow_id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cdc_resnapshots (flow_id, org, sandbox, requested_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (flow_id) DO UPDATE SET requested_at = excluded.requested_at",
        )
        .bind(flow_id)
        .bind(&tenant.org)
        .bind(&tenant.sandbox)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When a re-snapshot of `flow_id` was asked for, if one waits.
    pub async fn resnapshot_requested(&self, tenant: &Tenant, flow_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT requested_at FROM cdc_resnapshots WHERE flow_id = $1 AND org = $2 AND sandbox = $3",
        )
        .bind(flow_id)
        .bind(&tenant.org)
        .bind(&tenant.sandbox)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Forgets the re-snapshot of `flow_id` asked for at `at` or before (a newer ask stays).
    pub async fn clear_resnapshot(&self, flow_id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cdc_resnapshots WHERE flow_id = $1 AND requested_at <= $2")
            .bind(flow_id)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
