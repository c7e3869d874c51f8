//! Connections per source: all processes on one metadata store read from one database
//! server over at most `source_connections` connections at a time, however many runs
//! want it. A run asks for as many connections as it has partitions, waits for the first,
//! takes what else is free, and reads in that many partitions.
//!
//! The connections are leases on slots in the metadata store (`store/slots.rs`), renewed
//! while held, so a process that dies gives its slots up when their lease lapses. A
//! holder that cannot renew in time is told to stop ([`Slots::lost`]) before its lease
//! can lapse, so another process never reads beside it; slots are given back a moment
//! after the run lets them go, once its connections have closed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use crate::sources::config::SourceConfig;
use crate::store::{SlotLease, Store, StoreError};

/// How long after a run lets its slots go they are given back: its connections close
/// asynchronously, and must be gone before another process opens new ones.
const RELEASE_GRACE: Duration = Duration::from_millis(200);

/// How slots are leased.
#[derive(Clone, Copy, Debug)]
pub struct SlotSettings {
    /// Connections to one server, all processes together (one at least).
    pub limit: usize,
    /// How long a slot is held without a renewal.
    pub lease: Duration,
    /// How often a run waiting for a slot looks again.
    pub poll: Duration,
}

/// The reading connections of every source server, each bounded by the same limit.
pub struct SourceSlots {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: SlotSettings,
    /// Names this process in holder ids (host and pid).
    process: String,
    /// The newest clock reading (µs) of each server, by its key: a window whose settle
    /// time a server's clock has passed once needs no new reading (see [`Self::clock_passed`]).
    clocks: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// Woken when this process gives slots back, so its own waiting runs take them at
    /// once rather than at their next poll.
    released: Arc<tokio::sync::Notify>,
}

/// Connections held by a run; dropping it gives them back.
pub struct Slots {
    count: usize,
    lost: CancellationToken,
    renewer: tokio::task::JoinHandle<()>,
    release: Option<(Store, String, String)>,
    released: Arc<tokio::sync::Notify>,
}

impl Slots {
    /// How many connections the run may open: the partitions it reads in.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Cancelled when the slots could not be renewed in time: the run must stop reading.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        self.renewer.abort();
        if let Some((store, server, holder)) = self.release.take() {
            let released = self.released.clone();
            tokio::spawn(async move {
                tokio::time::sleep(RELEASE_GRACE).await;
                match store.release_slots(&server, &holder).await {
                    Ok(()) => released.notify_waiters(),
                    Err(error) => {
                        tracing::warn!(%server, %error, "giving source connections back failed; their lease will lapse")
                    }
                }
            });
        }
    }
}

impl SourceSlots {
    /// Slots leased in `store`, timed by `clock`'s wall time.
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: SlotSettings, process: &str) -> SourceSlots {
        let settings = SlotSettings {
            limit: settings.limit.max(1),
            ..settings
        };
        SourceSlots {
            store,
            clock,
            settings,
            process: process.to_string(),
            clocks: Default::default(),
            released: Default::default(),
        }
    }

    /// Whether `source`'s server's clock was seen at or past `micros` already. A clock
    /// moves forward, so such a window needs no new reading (nor a connection for it):
    /// catching up after downtime reads the clock once, not once per window.
    pub fn clock_passed(&self, source: &SourceConfig, micros: i64) -> bool {
        let clocks = self.clocks.lock().expect("source clocks");
        clocks.get(&server_key(source)).is_some_and(|seen| *seen >= micros)
    }

    /// Remembers a reading of `source`'s server's clock (µs).
    pub fn saw_clock(&self, source: &SourceConfig, micros: i64) {
        let mut clocks = self.clocks.lock().expect("source clocks");
        let seen = clocks.entry(server_key(source)).or_insert(micros);
        *seen = (*seen).max(micros);
    }

    /// Waits for one connection to `source`'s server, then takes up to `wanted` in all
    /// of those free right now.
    pub async fn acquire(&self, source: &SourceConfig, wanted: usize) -> Result<Slots, StoreError> {
        let server = server_key(source);
        let holder = format!("{}/{}", self.process, uuid::Uuid::new_v4());
        let wanted = wanted.clamp(1, self.settings.limit);
        loop {
            // Listening before looking, so a release between the two is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let count = self
                .store
                .take_slots(&server, self.settings.limit, wanted, &holder, self.lease())
                .await?;
            if count > 0 {
                return Ok(self.held(server, holder, count));
            }
            tokio::select! {
                _ = released => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    fn lease(&self) -> SlotLease {
        let now = self.clock.wall_millis();
        SlotLease {
            now,
            until: now + self.settings.lease.as_millis() as i64,
        }
    }

    fn held(&self, server: String, holder: String, count: usize) -> Slots {
        let lost = CancellationToken::new();
        let renewer = tokio::spawn(renew(
            self.store.clone(),
            self.clock.clone(),
            self.settings.lease,
            (server.clone(), holder.clone(), count),
            lost.clone(),
        ));
        Slots {
            count,
            lost,
            renewer,
            release: Some((self.store.clone(), server, holder)),
            released: self.released.clone(),
        }
    }
}

/// Renews the lease every third of it. When a renewal shows a slot taken over, or none
/// succeeded for two thirds of the lease (another process would take the slots once the
/// last third passes too), `lost` is cancelled.
async fn renew(
    store: Store,
    clock: Arc<dyn Clock>,
    lease: Duration,
    (server, holder, count): (String, String, usize),
    lost: CancellationToken,
) {
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(lease / 3).await;
        let until = clock.wall_millis() + lease.as_millis() as i64;
        match store.renew_slots(&server, &holder, until).await {
            Ok(held) if held == count => renewed = Instant::now(),
            Ok(held) => {
                tracing::warn!(%server, held, count, "source connections were taken over after their lease lapsed");
                lost.cancel();
                return;
            }
            Err(error) => {
                tracing::warn!(%server, %error, "renewing the lease on source connections failed");
                if renewed.elapsed() >= lease * 2 / 3 {
                    lost.cancel();
                    return;
                }
            }
        }
    }
}

/// Databases on one server share its limit: they share its CPUs and its
/// `max_connections`.
fn server_key(source: &SourceConfig) -> String {
    format!("{}:{}", source.host.to_ascii_lowercase(), source.port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::clock::SystemClock;
    use crate::secret::Secret;
    use crate::sources::url::parse_source;

    #[tokio::test]
    async fn a_servers_clock_once_seen_past_a_time_needs_no_new_reading_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).await.unwrap();
        let settings = SlotSettings {
            limit: 1,
            lease: Duration::from_secs(3),
            poll: Duration::from_millis(10),
        };
        let slots = SourceSlots::new(store, Arc::new(SystemClock), settings, "p");
        let (db, other) = (source("db"), source("other"));
        assert!(!slots.clock_passed(&db, 100), "never read");
        slots.saw_clock(&db, 1_000);
        slots.saw_clock(&db, 900);
        assert!(slots.clock_passed(&db, 1_000));
        assert!(!slots.clock_passed(&db, 1_001), "later than any reading");
        assert!(!slots.clock_passed(&other, 100), "another server");
    }

    fn source(host: &str) -> SourceConfig {
        parse_source(&Secret::new(format!("postgres://reader:pw@{host}:5432/shop"))).unwrap()
    }

    fn slots(store: &Store, process: &str) -> SourceSlots {
        let settings = SlotSettings {
            limit: 3,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(10),
        };
        SourceSlots::new(store.clone(), Arc::new(SystemClock), settings, process)
    }

    /// Two processes (two `SourceSlots` on one store) share each server's limit.
    #[tokio::test]
    async fn processes_share_a_servers_connections_and_wait_for_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).await.unwrap();
        let (one, two) = (slots(&store, "p1"), slots(&store, "p2"));
        let first = one.acquire(&source("db1"), 2).await.unwrap();
        let second = two.acquire(&source("DB1"), 2).await.unwrap();
        assert_eq!(
            (first.count(), second.count()),
            (2, 1),
            "the second run takes what is left"
        );

        let other = two.acquire(&source("db2"), 8).await.unwrap();
        assert_eq!(
            other.count(),
            3,
            "another server has its own limit, and no run takes more"
        );

        let db1 = source("db1");
        let waiting = two.acquire(&db1, 2);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(100), &mut waiting)
                .await
                .is_err(),
            "a third run waits while every connection is taken"
        );
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("freed")
            .unwrap();
        assert_eq!(third.count(), 2);
        assert!(!third.lost().is_cancelled());
    }
}
