//! Per-subscription rate limits (`maxDeliveriesPerMinute`, docs/alerts.md): a delivery
//! beyond its subscription's limit waits for the next window, shared by every process
//! through the store; it is delayed, never dropped, and its claim is no attempt.

use super::deliver::Deliverer;
use super::subscription::{SUBSCRIPTION_KIND, Subscription};
use crate::store::{ClaimedDelivery, now_millis};

/// The window a subscription's limit counts deliveries in.
pub const RATE_WINDOW_MS: i64 = 60_000;

/// Bounds of `maxDeliveriesPerMinute`: one to a thousand a second.
pub const MAX_PER_MINUTE: (u32, u32) = (1, 60_000);

impl Deliverer {
    /// Takes `job`'s place in its subscription's window; `Some(at)` when the window is
    /// full and the delivery must wait until wall-clock millisecond `at`. A subscription
    /// without a limit, gone or unreadable (the attempt says why) takes no place.
    pub(super) async fn wait_for_rate(&self, job: &ClaimedDelivery) -> Option<i64> {
        let limit = match self
            .store
            .get_resource(SUBSCRIPTION_KIND, &job.tenant, &job.subscription_id)
            .await
        {
            Ok(Some(row)) => Subscription::from_doc(&row.doc)
                .ok()
                .and_then(|s| s.max_deliveries_per_minute)?,
            _ => return None,
        };
        match self
            .store
            .take_delivery_place(&job.subscription_id, i64::from(limit), RATE_WINDOW_MS, now_millis())
            .await
        {
            Ok(wait) => wait,
            Err(error) => {
                // Sending over the limit once is better than holding every delivery back.
                tracing::warn!(subscription = %job.subscription_id, %error, "the rate limit could not be checked");
                None
            }
        }
    }
}
