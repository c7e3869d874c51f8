//! Connections per source: one process reads from one database server over at most
//! `source_connections` connections at a time, however many runs want it. A run asks for
//! as many connections as it has partitions, waits for the first, takes what else is free,
//! and reads in that many partitions; its connections are given back when it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::sources::config::SourceConfig;

/// The reading connections of every source server, each bounded by the same limit.
pub struct SourceSlots {
    limit: usize,
    servers: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Connections held by a run; dropping it gives them back.
pub struct Slots {
    permit: OwnedSemaphorePermit,
}

impl Slots {
    /// How many connections the run may open: the partitions it reads in.
    pub fn count(&self) -> usize {
        self.permit.num_permits()
    }
}

impl SourceSlots {
    /// At most `limit` (one at least) connections per server.
    pub fn new(limit: usize) -> SourceSlots {
        SourceSlots {
            limit: limit.max(1),
            servers: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for one connection to `source`'s server, then takes up to `wanted` in all
    /// of those free right now.
    pub async fn acquire(&self, source: &SourceConfig, wanted: usize) -> Slots {
        let server = self.server(source);
        let mut permit = server.clone().acquire_owned().await.expect("slots are never closed");
        while permit.num_permits() < wanted.min(self.limit) {
            match server.clone().try_acquire_owned() {
                Ok(more) => permit.merge(more),
                Err(_) => break,
            }
        }
        Slots { permit }
    }

    /// Databases on one server share its limit: they share its CPUs and its
    /// `max_connections`.
    fn server(&self, source: &SourceConfig) -> Arc<Semaphore> {
        let key = format!("{}:{}", source.host.to_ascii_lowercase(), source.port);
        let mut servers = self.servers.lock().expect("no panic while holding the map");
        servers
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::sources::url::parse_source;
    use std::time::Duration;

    fn source(host: &str) -> SourceConfig {
        parse_source(&Secret::new(format!("postgres://reader:pw@{host}:5432/shop"))).unwrap()
    }

    #[tokio::test]
    async fn runs_share_a_servers_connections_and_wait_for_one() {
        let slots = SourceSlots::new(3);
        let first = slots.acquire(&source("db1"), 2).await;
        let second = slots.acquire(&source("DB1"), 2).await;
        assert_eq!(
            (first.count(), second.count()),
            (2, 1),
            "the second run takes what is left"
        );

        let other = slots.acquire(&source("db2"), 8).await;
        assert_eq!(
            other.count(),
            3,
            "another server has its own limit, and no run takes more"
        );

        let db1 = source("db1");
        let waiting = slots.acquire(&db1, 2);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut waiting)
                .await
                .is_err(),
            "a third run waits while every connection is taken"
        );
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("freed");
        assert_eq!(third.count(), 2);
    }
}
