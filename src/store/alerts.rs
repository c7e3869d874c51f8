//! The alert outbox: events written in the transaction of the run change they report,
//! and their deliveries to subscriptions, claimed with leases by any process.
//!
//! An event is fanned out once it is read (`dispatched`): one delivery row per
//! subscription that wants it, keyed by (event, subscription), so two processes fanning
//! out the same event write each delivery once. A delivery is claimed like a run (on
//! PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite serialises writers), and a claim whose
//! process died lapses with its lease and is taken again.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::claims::{Lease, update_held_run};
use super::runs::RunRow;
use super::{Backend, Store, StoreError};
use crate::alerts::AlertEvent;
use crate::identity::Tenant;

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or a retry.
    Pending,
    /// Held by a process that is sending it.
    Delivering,
    /// The receiver answered 2xx.
    Delivered,
    /// Retried until the retry period ran out, or its subscription is gone.
    Dead,
}

impl DeliveryStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivering => "delivering",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    fn parse(text: &str) -> Result<DeliveryStatus, StoreError> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivering,
            DeliveryStatus::Delivered,
            DeliveryStatus::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| StoreError::Invalid(format!("delivery status `{text}`")))
    }
}

/// An event not fanned out yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEvent {
    pub id: String,
    pub tenant: Tenant,
    pub kind: String,
    pub flow_id: Option<String>,
    pub subscription_id: Option<String>,
    /// The body to deliver (the fan-out reads a run's metrics from it).
    pub payload: String,
}

/// A delivery a process claimed, with what it sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub subscription_id: String,
    pub tenant: Tenant,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// When the event was written (wall-clock milliseconds): retries stop a retry period later.
    pub event_created_at: i64,
    pub payload: String,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptEnd {
    pub status: DeliveryStatus,
    /// When to try again (pending only), wall-clock milliseconds.
    pub next_at: i64,
    /// The receiver's HTTP status, if it answered.
    pub code: Option<i64>,
    /// Why the attempt failed, for the user (never the secret).
    pub error: Option<String>,
}

/// A delivery as `GET .../deliveries` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRow {
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<i64>,
    pub last_response_code: Option<i64>,
    pub last_error: Option<String>,
}

/// Inserts `event`, `tail` (an `ON CONFLICT` clause, or nothing) after the statement.
pub(super) async fn insert_event<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    event: &AlertEvent,
    tail: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(&format!(
        "INSERT INTO alert_events (id, org, sandbox, kind, flow_id, subscription_id, created_at, payload, dispatched) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0){tail}"
    ))
    .bind(&event.id)
    .bind(&event.tenant.org)
    .bind(&event.tenant.sandbox)
    .bind(event.kind.as_str())
    .bind(event.flow_id.as_deref())
    .bind(event.subscription_id.as_deref())
    .bind(event.created_at)
    .bind(event.payload.to_string())
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// [`Store::save_run`], and `event` written in the same transaction: the event exists
    /// exactly when the change it reports does. False (nothing written) if the lease was lost.
    pub async fn save_run_with_events(
        &self,
        run: &RunRow,
        owner: &str,
        lease: Lease,
        events: &[AlertEvent],
    ) -> Result<bool, StoreError> {
        if events.is_empty() {
            return self.save_run(run, owner, lease).await;
        }
        let mut tx = self.pool.begin().await?;
        if update_held_run(&mut *tx, run, owner, lease).await? != 1 {
            return Ok(false);
        }
        for event in events {
            insert_event(&mut *tx, event, "").await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Writes `event` unless one with its id exists (a delay event another process wrote).
    /// True if written (false: an event of that id exists).
    pub async fn insert_alert_event_once(&self, event: &AlertEvent) -> Result<bool, StoreError> {
        insert_event(&self.pool, event, " ON CONFLICT (id) DO NOTHING").await
    }

    /// Writes an event on its own (a subscription's test event).
    pub async fn insert_alert_event(&self, event: &AlertEvent) -> Result<(), StoreError> {
        insert_event(&self.pool, event, "").await.map(|_| ())
    }

    /// Up to `limit` events not fanned out yet, oldest first.
    pub async fn undispatched_events(&self, limit: i64) -> Result<Vec<PendingEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, org, sandbox, kind, flow_id, subscription_id, payload FROM alert_events \
             WHERE dispatched = 0 ORDER BY created_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingEvent {
                    id: row.try_get("id")?,
                    tenant: Tenant {
                        org: row.try_get("org")?,
                        sandbox: row.try_get("sandbox")?,
                    },
                    kind: row.try_get("kind")?,
                    flow_id: row.try_get("flow_id")?,
                    subscription_id: row.try_get("subscription_id")?,
                    payload: row.try_get("payload")?,
                })
            })
            .collect()
    }

    /// Records `event`'s deliveries to `subscriptions` (each once, whoever else writes
    /// them too) and marks it fanned out, in one transaction.
    pub async fn dispatch_event(
        &self,
        event: &PendingEvent,
        subscriptions: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for subscription in subscriptions {
            sqlx::query(
                "INSERT INTO alert_deliveries (id, event_id, subscription_id, org, sandbox, status, attempts, next_at, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(format!("{}.{subscription}", event.id))
            .bind(&event.id)
            .bind(subscription)
            .bind(&event.tenant.org)
            .bind(&event.tenant.sandbox)
            .bind(DeliveryStatus::Pending.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE alert_events SET dispatched = 1 WHERE id = $1")
            .bind(&event.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims for `owner` the next delivery due at `now` (or whose lease lapsed), until
    /// `lease_until`; the claim counts as an attempt.
    pub async fn claim_delivery(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<ClaimedDelivery>, StoreError> {
        let lock = if self.backend == Backend::Postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE alert_deliveries SET status = $1, lease_owner = $2, lease_expires_at = $3, updated_at = $4, \
             attempts = attempts + 1 WHERE id = (SELECT id FROM alert_deliveries \
               WHERE (status = $5 AND next_at <= $4) OR (status = $1 AND lease_expires_at < $4) \
               ORDER BY next_at LIMIT 1 {lock}) RETURNING id"
        );
        let claimed = sqlx::query(&sql)
            .bind(DeliveryStatus::Delivering.as_str())
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(DeliveryStatus::Pending.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(claimed) = claimed else { return Ok(None) };
        let id: String = claimed.try_get("id")?;
        let row = sqlx::query(
            "SELECT d.id, d.event_id, d.subscription_id, d.org, d.sandbox, d.attempts, e.kind, e.created_at, e.payload \
             FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id WHERE d.id = $1",
        )
        .bind(&id)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(ClaimedDelivery {
            id: row.try_get("id")?,
            event_id: row.try_get("event_id")?,
            event_type: row.try_get("kind")?,
            subscription_id: row.try_get("subscription_id")?,
            tenant: Tenant {
                org: row.try_get("org")?,
                sandbox: row.try_get("sandbox")?,
            },
            attempts: row.try_get("attempts")?,
            event_created_at: row.try_get("created_at")?,
            payload: row.try_get("payload")?,
        }))
    }

    /// Records how `owner`'s attempt at delivery `id` ended and releases it; false if the
    /// lease was lost meanwhile (another process took it; nothing is written).
    pub async fn end_delivery_attempt(
        &self,
        id: &str,
        owner: &str,
        end: &AttemptEnd,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE alert_deliveries SET status = $1, next_at = $2, last_code = $3, last_error = $4, updated_at = $5, \
             lease_owner = NULL, lease_expires_at = NULL WHERE id = $6 AND lease_owner = $7 AND status = $8",
        )
        .bind(end.status.as_str())
        .bind(end.next_at)
        .bind(end.code)
        .bind(end.error.as_deref())
        .bind(now)
        .bind(id)
        .bind(owner)
        .bind(DeliveryStatus::Delivering.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes deliveries that ended (delivered or dead) and events with none left that
    /// were written before `before` (wall-clock milliseconds); how many events went.
    pub async fn prune_alerts(&self, before: i64) -> Result<u64, StoreError> {
        sqlx::query("DELETE FROM alert_deliveries WHERE created_at < $1 AND status IN ($2, $3)")
            .bind(before)
            .bind(DeliveryStatus::Delivered.as_str())
            .bind(DeliveryStatus::Dead.as_str())
            .execute(&self.pool)
            .await?;
        let done = sqlx::query(
            "DELETE FROM alert_events WHERE created_at < $1 AND dispatched = 1 \
             AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.event_id = alert_events.id)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Subscription `subscription_id`'s deliveries, newest first, at most `limit`.
    pub async fn list_deliveries(
        &self,
        tenant: &Tenant,
        subscription_id: &str,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.event_id, e.kind, d.status, d.attempts, d.created_at, d.updated_at, d.next_at, d.last_code, \
             d.last_error FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id \
             WHERE d.org = $1 AND d.sandbox = $2 AND d.subscription_id = $3 \
             ORDER BY d.created_at DESC, d.id LIMIT $4",
        )
        .bind(&tenant.org)
        .bind(&tenant.sandbox)
        .bind(subscription_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_delivery).collect()
    }
}

fn read_delivery(row: &AnyRow) -> Result<DeliveryRow, StoreError> {
    let status = DeliveryStatus::parse(&row.try_get::<String, _>("status")?)?;
    let next_at: i64 = row.try_get("next_at")?;
    Ok(DeliveryRow {
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("kind")?,
        status,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(next_at),
        last_response_code: row.try_get("last_code")?,
        last_error: row.try_get("last_error")?,
    })
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
