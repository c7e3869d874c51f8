//! Leases on the reading connections to source servers, shared by every process on this
//! metadata store: a server has `limit` slots (0 to `limit - 1`), each held by at most
//! one holder until its lease lapses, so the processes together never read from one
//! server over more than `limit` connections (`crate::flows::slots` holds and renews
//! them). Taking a slot is one conditional upsert: it succeeds only on a slot nobody
//! holds, or whose lease lapsed, which the database decides for one writer at a time.

use super::{Store, StoreError};

/// Wall-clock milliseconds of a lease: now, and when the lease being taken lapses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotLease {
    pub now: i64,
    pub until: i64,
}

impl Store {
    /// Takes for `holder` up to `wanted` of the `limit` slots of `server` that are free
    /// (never taken, given back, or with a lease that lapsed before `lease.now`); returns
    /// how many it took, possibly none.
    pub async fn take_slots(
        &self,
        server: &str,
        limit: usize,
        wanted: usize,
        holder: &str,
        lease: SlotLease,
    ) -> Result<usize, StoreError> {
        let held: Vec<i64> = sqlx::query_scalar("SELECT slot FROM source_slots WHERE server = $1 AND expires_at >= $2")
            .bind(server)
            .bind(lease.now)
            .fetch_all(&self.pool)
            .await?;
        let mut taken = 0;
        for slot in (0..limit as i64).filter(|slot| !held.contains(slot)) {
            if taken == wanted {
                break;
            }
            let done = sqlx::query(
                "INSERT INTO source_slots (server, slot, holder, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (server, slot) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE source_slots.expires_at < $5",
            )
            .bind(server)
            .bind(slot)
            .bind(holder)
            .bind(lease.until)
            .bind(lease.now)
            .execute(&self.pool)
            .await?;
            taken += done.rows_affected() as usize;
        }
        Ok(taken)
    }

    /// Extends the lease of every slot `holder` holds on `server`; returns how many it
    /// still holds (fewer than it took: another holder took one after its lease lapsed).
    pub async fn renew_slots(&self, server: &str, holder: &str, until: i64) -> Result<usize, StoreError> {
        let done = sqlx::query("UPDATE source_slots SET expires_at = $1 WHERE server = $2 AND holder = $3")
            .bind(until)
            .bind(server)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() as usize)
    }

    /// Gives back every slot `holder` holds on `server`.
    pub async fn release_slots(&self, server: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM source_slots WHERE server = $1 AND holder = $2")
            .bind(server)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now: i64) -> SlotLease {
        SlotLease { now, until: now + 100 }
    }

    #[tokio::test]
    async fn holders_share_a_servers_slots_until_a_lease_lapses() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).await.unwrap();
        assert_eq!(store.take_slots("db:5432", 3, 2, "a", at(1000)).await.unwrap(), 2);
        assert_eq!(
            store.take_slots("db:5432", 3, 2, "b", at(1000)).await.unwrap(),
            1,
            "what is left"
        );
        assert_eq!(
            store.take_slots("db:5432", 3, 1, "c", at(1050)).await.unwrap(),
            0,
            "all held"
        );
        assert_eq!(
            store.take_slots("other:5432", 3, 5, "c", at(1050)).await.unwrap(),
            3,
            "another server"
        );

        assert_eq!(store.renew_slots("db:5432", "a", 1300).await.unwrap(), 2);
        // b's lease lapsed at 1100; a renewed until 1300.
        assert_eq!(store.take_slots("db:5432", 3, 3, "c", at(1200)).await.unwrap(), 1);
        assert_eq!(
            store.renew_slots("db:5432", "b", 1400).await.unwrap(),
            0,
            "b lost its slot"
        );

        store.release_slots("db:5432", "a").await.unwrap();
        assert_eq!(store.take_slots("db:5432", 3, 3, "d", at(1250)).await.unwrap(), 2);
    }
}
