//! Maintenance of datasets' tables, shared by every process on this metadata store: a
//! dataset is maintained by one holder at a time, under a lease that lapses when its
//! process dies, and the row keeps what the last pass did (shown in the dataset item).
//! Taking the lease is one conditional upsert, decided by the database for one writer at
//! a time, as for source slots (`slots.rs`).

use sqlx::Row;

use super::{Store, StoreError};

/// What the last maintenance pass of a dataset did, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastMaintenance {
    /// When it ended (epoch ms).
    pub at: i64,
    /// Its record (`lake::Maintained` as JSON).
    pub doc: String,
}

impl Store {
    /// Every dataset's id, of every tenant (for the background maintenance pass).
    pub async fn all_dataset_ids(&self, kind: &str) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM resources WHERE kind = $1 ORDER BY id")
                .bind(kind)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Takes the maintenance lease of `dataset` for `holder` until `until`, if nobody holds
    /// it or its lease lapsed before `now`. True when taken.
    pub async fn take_maintenance(
        &self,
        dataset: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO dataset_maintenance (dataset_id, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (dataset_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE dataset_maintenance.expires_at < $4",
        )
        .bind(dataset)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Extends `holder`'s lease on `dataset`; false when it no longer holds it.
    pub async fn renew_maintenance(&self, dataset: &str, holder: &str, until: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE dataset_maintenance SET expires_at = $1 WHERE dataset_id = $2 AND holder = $3")
            .bind(until)
            .bind(dataset)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up, recording what the pass did when it did something.
    pub async fn end_maintenance(
        &self,
        dataset: &str,
        holder: &str,
        record: Option<&LastMaintenance>,
    ) -> Result<(), StoreError> {
        let query = match record {
            Some(record) => sqlx::query(
                "UPDATE dataset_maintenance SET holder = NULL, expires_at = 0, last_at = $1, last_doc = $2 \
                 WHERE dataset_id = $3 AND holder = $4",
            )
            .bind(record.at)
            .bind(record.doc.clone()),
            None => sqlx::query(
                "UPDATE dataset_maintenance SET holder = NULL, expires_at = 0 WHERE dataset_id = $1 AND holder = $2",
            ),
        };
        query.bind(dataset).bind(holder).execute(&self.pool).await?;
        Ok(())
    }

    /// What the last recorded maintenance pass of `dataset` did.
    pub async fn last_maintenance(&self, dataset: &str) -> Result<Option<LastMaintenance>, StoreError> {
        let row = sqlx::query("SELECT last_at, last_doc FROM dataset_maintenance WHERE dataset_id = $1")
            .bind(dataset)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let at: Option<i64> = row.try_get("last_at")?;
        let doc: Option<String> = row.try_get("last_doc")?;
        Ok(at.zip(doc).map(|(at, doc)| LastMaintenance { at, doc }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_maintains_a_dataset_until_its_lease_lapses() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(dir.path()).await.unwrap();
        assert!(store.take_maintenance("d1", "a", 1000, 1100).await.unwrap());
        assert!(!store.take_maintenance("d1", "b", 1050, 1150).await.unwrap(), "held");
        assert!(
            store.take_maintenance("d2", "b", 1050, 1150).await.unwrap(),
            "another dataset"
        );
        assert!(store.renew_maintenance("d1", "a", 1300).await.unwrap());
        assert!(!store.take_maintenance("d1", "b", 1200, 1400).await.unwrap(), "renewed");
        assert!(store.take_maintenance("d1", "b", 1301, 1400).await.unwrap(), "lapsed");
        assert!(!store.renew_maintenance("d1", "a", 1500).await.unwrap(), "a lost it");

        let record = LastMaintenance {
            at: 1350,
            doc: "{}".into(),
        };
        store.end_maintenance("d1", "a", Some(&record)).await.unwrap();
        assert_eq!(store.last_maintenance("d1").await.unwrap(), None, "not a's to end");
        store.end_maintenance("d1", "b", Some(&record)).await.unwrap();
        assert_eq!(store.last_maintenance("d1").await.unwrap(), Some(record.clone()));
        assert!(store.take_maintenance("d1", "c", 1360, 1400).await.unwrap(), "given up");
        store.end_maintenance("d1", "c", None).await.unwrap();
        assert_eq!(store.last_maintenance("d1").await.unwrap(), Some(record), "kept");
    }
}
