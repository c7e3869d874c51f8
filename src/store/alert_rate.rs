//! Per-subscription delivery rate limits (`maxDeliveriesPerMinute`), shared by every
//! process: one row a subscription holds its current window and the deliveries sent in
//! it, and each delivery takes its place with one conditional UPDATE (atomic on
//! PostgreSQL, whose row lock re-checks the condition, and on SQLite, which serialises
//! writers). A delivery that finds the window full waits for the next one: it is put
//! back as pending, its claim not counted as an attempt, never dropped.

use sqlx::Row;

use super::alerts::DeliveryStatus;
use super::{Store, StoreError};

impl Store {
    /// Takes one of `limit` places of subscription `subscription_id`'s window of
    /// `window_ms` (a window opens with the first delivery after the last one closed).
    /// `None`: taken; `Some(at)`: the window is full until wall-clock millisecond `at`.
    pub async fn take_delivery_place(
        &self,
        subscription_id: &str,
        limit: i64,
        window_ms: i64,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query(
            "INSERT INTO alert_rates (subscription_id, window_start, sent) VALUES ($1, $2, 0) \
             ON CONFLICT (subscription_id) DO NOTHING",
        )
        .bind(subscription_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let taken = sqlx::query(
            "UPDATE alert_rates SET \
               sent = CASE WHEN window_start <= $2 THEN 1 ELSE sent + 1 END, \
               window_start = CASE WHEN window_start <= $2 THEN $3 ELSE window_start END \
             WHERE subscription_id = $1 AND (window_start <= $2 OR sent < $4)",
        )
        .bind(subscription_id)
        .bind(now - window_ms)
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT window_start FROM alert_rates WHERE subscription_id = $1")
            .bind(subscription_id)
            .fetch_one(&self.pool)
            .await?;
        let start: i64 = row.try_get("window_start")?;
        Ok(Some(start + window_ms))
    }

    /// Puts `owner`'s claimed delivery `id` back as pending until `until` (wall-clock
    /// milliseconds), its claim not counted as an attempt; false if the lease was lost.
    pub async fn postpone_delivery(&self, id: &str, owner: &str, until: i64, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE alert_deliveries SET status = $1, next_at = $2, attempts = attempts - 1, updated_at = $3, \
             lease_owner = NULL, lease_expires_at = NULL WHERE id = $4 AND lease_owner = $5 AND status = $6",
        )
        .bind(DeliveryStatus::Pending.as_str())
        .bind(until)
        .bind(now)
        .bind(id)
        .bind(owner)
        .bind(DeliveryStatus::Delivering.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes rate windows that closed before `before` (wall-clock milliseconds): a
    /// missing row is a window not opened yet.
    pub async fn prune_delivery_rates(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM alert_rates WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
