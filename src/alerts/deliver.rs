//! The delivery worker: fans new events out to the subscriptions that want them and
//! POSTs each delivery, signed, with a short timeout, no redirect followed, the egress
//! policy judging every address, the answer's body never read; a failed attempt is
//! retried with a doubling backoff until the retry period after the event ran out, then
//! the delivery is dead. It runs in tasks of its own: runs never wait for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::settings::AlertSettings;
use super::sign::{EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature};
use super::subscription::{SUBSCRIPTION_KIND, Subscription, check_url, secret_binding};
use crate::connections::secrets::SecretCipher;
use crate::flows::clock::Clock;
use crate::secret::Secret;
use crate::sources::egress::EgressPolicy;
use crate::store::{AttemptEnd, ClaimedDelivery, DeliveryStatus, PendingEvent, Store, StoreError, now_millis};

/// Events fanned out per pass.
pub(super) const FAN_OUT_BATCH: i64 = 100;
/// Fan-out passes per look for delayed runs.
const DELAY_SCAN_EVERY: u64 = 10;
/// Fan-out passes per look for stale flows: one pass over every flow's successes, for
/// thresholds counted in minutes.
const FRESHNESS_SCAN_EVERY: u64 = 60;
/// Fan-out passes per removal of old events (and once at start-up).
const PRUNE_EVERY: u64 = 1_000;

/// What the delivery worker uses.
pub struct Deliverer {
    pub store: Store,
    pub cipher: SecretCipher,
    pub settings: AlertSettings,
    pub egress: Arc<EgressPolicy>,
    /// This process's name in leases.
    pub owner: String,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    /// The flow clock runs are due by (delays are judged by it).
    pub clock: Arc<dyn Clock>,
    http: reqwest::Client,
    /// Wakes this process's idle delivery tasks when its fan-out wrote deliveries.
    wake: Notify,
}

/// Resolves a receiver's host and lets the connection go only to addresses the egress
/// policy allows, so a name cannot point a delivery at a metadata service.
struct PolicyResolver(Arc<EgressPolicy>);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<_> = addrs.iter().map(SocketAddr::ip).collect();
            policy.check_resolved(&host, &ips)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl Deliverer {
    /// A worker over `store` with `settings`, for process `owner`.
    pub fn new(
        store: Store,
        cipher: SecretCipher,
        settings: AlertSettings,
        egress: Arc<EgressPolicy>,
        owner: String,
        (poll, clock): (Duration, Arc<dyn Clock>),
    ) -> anyhow::Result<Deliverer> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .dns_resolver(Arc::new(PolicyResolver(egress.clone())))
            .user_agent(concat!("inlet-alerts/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Deliverer {
            store,
            cipher,
            settings,
            egress,
            owner,
            poll,
            clock,
            http,
            wake: Notify::new(),
        })
    }

    /// Fans out up to a batch of new events; how many.
    pub async fn fan_out(&self) -> Result<usize, StoreError> {
        let events = self.store.undispatched_events(FAN_OUT_BATCH).await?;
        for event in &events {
            let targets = self.targets(event).await?;
            self.store.dispatch_event(event, &targets, now_millis()).await?;
        }
        if !events.is_empty() {
            self.wake.notify_waiters();
        }
        Ok(events.len())
    }

    /// The subscriptions `event` goes to.
    async fn targets(&self, event: &PendingEvent) -> Result<Vec<String>, StoreError> {
        if let Some(only) = &event.subscription_id {
            return Ok(vec![only.clone()]);
        }
        if !self.worth_sending(event).await? {
            // Below its flow's threshold: recorded, fanned out to no one.
            return Ok(Vec::new());
        }
        let rows = self.store.list_resources(SUBSCRIPTION_KIND, &event.tenant).await?;
        Ok(rows
            .iter()
            .filter_map(|row| Subscription::from_doc(&row.doc).ok())
            .filter(|s| s.wants(&event.kind, event.flow_id.as_deref()))
            .map(|s| s.id)
            .collect())
    }

    /// Claims one due delivery and attempts it; false when none was due.
    pub async fn deliver_one(&self) -> Result<bool, StoreError> {
        let now = now_millis();
        let lease = now + (self.settings.timeout.as_millis() as i64) * 2 + 30_000;
        let Some(job) = self.store.claim_delivery(&self.owner, now, lease).await? else {
            return Ok(false);
        };
        if let Some(until) = self.wait_for_rate(&job).await {
            // The subscription's window is full: the delivery waits for the next one.
            if !self
                .store
                .postpone_delivery(&job.id, &self.owner, until, now_millis())
                .await?
            {
                tracing::warn!(event = %job.event_id, "the delivery's lease was lost before it was put back");
            }
            return Ok(true);
        }
        let end = self.attempt(&job).await;
        match end.status {
            DeliveryStatus::Delivered => {
                tracing::info!(event = %job.event_id, subscription = %job.subscription_id, "alert delivered")
            }
            _ => tracing::warn!(event = %job.event_id, subscription = %job.subscription_id, attempt = job.attempts,
                status = end.status.as_str(), error = end.error.as_deref().unwrap_or_default(), "alert delivery failed"),
        }
        if !self
            .store
            .end_delivery_attempt(&job.id, &self.owner, &end, now_millis())
            .await?
        {
            tracing::warn!(event = %job.event_id, "the delivery's lease was lost before its end was recorded");
        }
        Ok(true)
    }

    /// One attempt at `job`.
    async fn attempt(&self, job: &ClaimedDelivery) -> AttemptEnd {
        let dead = |error: &str| AttemptEnd {
            status: DeliveryStatus::Dead,
            next_at: 0,
            code: None,
            error: Some(error.to_string()),
        };
        let row = match self
            .store
            .get_resource(SUBSCRIPTION_KIND, &job.tenant, &job.subscription_id)
            .await
        {
            Ok(Some(row)) => row,
            Ok(None) => return dead("the subscription was deleted"),
            Err(error) => return self.failed(job, None, format!("the metadata store failed: {error}")),
        };
        let Ok(subscription) = Subscription::from_doc(&row.doc) else {
            return dead("the subscription's stored document cannot be read");
        };
        let binding = secret_binding(&job.tenant, &job.subscription_id);
        let Some(secret) = row
            .secret
            .as_deref()
            .and_then(|sealed| self.cipher.open(sealed, &binding).ok())
            .and_then(|plain| String::from_utf8(plain).ok())
            .map(Secret::new)
        else {
            return dead("the subscription's secret cannot be opened (was the master key changed?)");
        };
        let url = match check_url(&subscription.url, self.settings.allow_http, &self.egress) {
            Ok(url) => url,
            Err(refused) => return self.failed(job, None, format!("the URL is refused: {refused}")),
        };
        let timestamp = now_millis() / 1000;
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(secret.expose().as_bytes(), timestamp, job.payload.as_bytes()),
            )
            .header(EVENT_ID_HEADER, &job.event_id)
            .header(EVENT_TYPE_HEADER, &job.event_type)
            .body(job.payload.clone())
            .send()
            .await;
        // The answer's body is never read: its size and content are the receiver's affair.
        match sent {
            Ok(answer) if answer.status().is_success() => AttemptEnd {
                status: DeliveryStatus::Delivered,
                next_at: 0,
                code: Some(i64::from(answer.status().as_u16())),
                error: None,
            },
            Ok(answer) if answer.status().is_redirection() => {
                let code = answer.status().as_u16();
                self.failed(
                    job,
                    Some(code),
                    format!("answered a redirect (HTTP {code}), which is not followed"),
                )
            }
            Ok(answer) => {
                let code = answer.status().as_u16();
                self.failed(job, Some(code), format!("answered HTTP {code}"))
            }
            Err(error) => self.failed(job, None, describe(&error, self.settings.timeout)),
        }
    }

    /// A failed attempt: retried after the backoff, or dead once the retry period ran out.
    fn failed(&self, job: &ClaimedDelivery, code: Option<u16>, error: String) -> AttemptEnd {
        let next_at = now_millis() + self.settings.backoff(job.attempts).as_millis() as i64;
        let give_up_at = job.event_created_at + self.settings.retry_for.as_millis() as i64;
        let (status, error) = if next_at > give_up_at {
            (
                DeliveryStatus::Dead,
                format!("{error}; no retry left (retried for {:?})", self.settings.retry_for),
            )
        } else {
            (DeliveryStatus::Pending, error)
        };
        AttemptEnd {
            status,
            next_at,
            code: code.map(i64::from),
            error: Some(error),
        }
    }
}

/// A failed send in words, without its URL (a query string may hold a token).
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {timeout:?}");
    }
    let mut text = String::from(if error.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    });
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Starts the fan-out loop and the delivery tasks; they stop when `stop` is cancelled.
pub fn start(deliverer: Arc<Deliverer>, stop: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let fan = deliverer.clone();
    let fan_stop = stop.clone();
    tasks.push(tokio::spawn(async move {
        let mut passes = 0u64;
        loop {
            // Delays are looked for every tenth pass: they are counted in minutes.
            if passes.is_multiple_of(DELAY_SCAN_EVERY)
                && let Err(error) = fan.report_delays().await
            {
                tracing::warn!(%error, "looking for delayed runs failed; will retry");
            }
            if passes.is_multiple_of(FRESHNESS_SCAN_EVERY)
                && let Err(error) = fan.report_stale_flows().await
            {
                tracing::warn!(%error, "looking for stale flows failed; will retry");
            }
            if passes.is_multiple_of(PRUNE_EVERY)
                && let Err(error) = fan.prune().await
            {
                tracing::warn!(%error, "removing old alert events failed; will retry");
            }
            passes += 1;
            let busy = match fan.fan_out().await {
                Ok(count) => count > 0,
                Err(error) => {
                    tracing::warn!(%error, "fanning alert events out failed; will retry");
                    false
                }
            };
            if pause(busy, fan.poll, &fan_stop, None).await {
                return;
            }
        }
    }));
    for _ in 0..deliverer.settings.delivery_tasks {
        let worker = deliverer.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let busy = match worker.deliver_one().await {
                    Ok(busy) => busy,
                    Err(error) => {
                        tracing::warn!(%error, "claiming an alert delivery failed; will retry");
                        false
                    }
                };
                if pause(busy, worker.poll, &stop, Some(&worker.wake)).await {
                    return;
                }
            }
        }));
    }
    tasks
}

/// Waits `poll` unless the last pass found work; true when `stop` was cancelled. Ends early
/// or `wake` is notified (the fan-out wrote deliveries: no need to wait the poll out).
async fn pause(busy: bool, poll: Duration, stop: &CancellationToken, wake: Option<&Notify>) -> bool {
    if stop.is_cancelled() {
        return true;
    }
    if busy {
        return false;
    }
    let woken = async {
        match wake {
            Some(wake) => wake.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(poll) => false,
        _ = woken => false,
    }
}
