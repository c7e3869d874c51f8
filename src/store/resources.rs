//! Flow Service resources (connections, and later source/target connections and flows),
//! stored as JSON documents scoped to one (org, sandbox).

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, is_unique_violation};
use crate::identity::Tenant;

/// One stored resource. `doc` is the item as the API shows it (secrets masked);
/// `secret` is the encrypted secret part, if the resource has one.
#[derive(Clone, Debug)]
pub struct ResourceRow {
    pub kind: String,
    pub id: String,
    pub tenant: Tenant,
    pub etag: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub doc: Value,
    pub secret: Option<Vec<u8>>,
}

/// A stored row that could not be read back, by id.
#[derive(Debug)]
pub struct UnreadableRow {
    pub id: String,
    pub error: StoreError,
}

/// The outcome of a conditional update.
#[derive(Debug, PartialEq, Eq)]
pub enum Update {
    Done,
    NotFound,
    /// The row exists but its etag is not the one the caller expected.
    Stale,
}

const COLUMNS: &str = "kind, id, org, sandbox, etag, created_at, updated_at, doc, secret";

impl Store {
    /// Inserts a new resource; `Conflict` if the id is taken.
    pub async fn insert_resource(&self, row: &ResourceRow) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO resources ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        sqlx::query(&sql)
            .bind(&row.kind)
            .bind(&row.id)
            .bind(&row.tenant.org)
            .bind(&row.tenant.sandbox)
            .bind(&row.etag)
            .bind(row.created_at)
            .bind(row.updated_at)
            .bind(serde_json::to_string(&row.doc)?)
            .bind(row.secret.clone())
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    /// The resource `id` of `kind` in `tenant`, if there is one.
    pub async fn get_resource(&self, kind: &str, tenant: &Tenant, id: &str) -> Result<Option<ResourceRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM resources WHERE kind = $1 AND id = $2 AND org = $3 AND sandbox = $4");
        let row = sqlx::query(&sql)
            .bind(kind)
            .bind(id)
            .bind(&tenant.org)
            .bind(&tenant.sandbox)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| read_row(&r)).transpose()
    }

    /// Every resource of `kind` in `tenant`, oldest first. Filters, order and paging are
    /// applied by the API layer, because filters address arbitrary paths in the document.
    pub async fn list_resources(&self, kind: &str, tenant: &Tenant) -> Result<Vec<ResourceRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE kind = $1 AND org = $2 AND sandbox = $3 ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(kind)
            .bind(&tenant.org)
            .bind(&tenant.sandbox)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(read_row).collect()
    }

    /// Every resource of `kind` in every tenant (for the scheduler, which serves them all),
    /// each read on its own: a row that cannot be read is an `Err` naming its id, and the
    /// others are still returned.
    pub async fn scan_resources(&self, kind: &str) -> Result<Vec<Result<ResourceRow, UnreadableRow>>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM resources WHERE kind = $1 ORDER BY created_at, id");
        let rows = sqlx::query(&sql).bind(kind).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|row| {
                read_row(row).map_err(|error| UnreadableRow {
                    id: row.try_get("id").unwrap_or_default(),
                    error,
                })
            })
            .collect())
    }

    /// Replaces a resource's etag, document and secret if its etag is still `expected_etag`.
    pub async fn update_resource(&self, row: &ResourceRow, expected_etag: &str) -> Result<Update, StoreError> {
        let done = sqlx::query(
            "UPDATE resources SET etag = $1, updated_at = $2, doc = $3, secret = $4 \
             WHERE kind = $5 AND id = $6 AND org = $7 AND sandbox = $8 AND etag = $9",
        )
        .bind(&row.etag)
        .bind(row.updated_at)
        .bind(serde_json::to_string(&row.doc)?)
        .bind(row.secret.clone())
        .bind(&row.kind)
        .bind(&row.id)
        .bind(&row.tenant.org)
        .bind(&row.tenant.sandbox)
        .bind(expected_etag)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Update::Done);
        }
        match self.get_resource(&row.kind, &row.tenant, &row.id).await? {
            Some(_) => Ok(Update::Stale),
            None => Ok(Update::NotFound),
        }
    }

    /// Updates `row` as [`Store::update_resource`] does and, in the same transaction,
    /// writes `version` (a new row, or over a row of that id left by a write that never
    /// finished): both happen or neither, even when the caller goes away half-way.
    pub async fn update_resource_with(
        &self,
        row: &ResourceRow,
        expected_etag: &str,
        version: &ResourceRow,
    ) -> Result<Update, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE resources SET etag = $1, updated_at = $2, doc = $3, secret = $4 \
             WHERE kind = $5 AND id = $6 AND org = $7 AND sandbox = $8 AND etag = $9",
        )
        .bind(&row.etag)
        .bind(row.updated_at)
        .bind(serde_json::to_string(&row.doc)?)
        .bind(row.secret.clone())
        .bind(&row.kind)
        .bind(&row.id)
        .bind(&row.tenant.org)
        .bind(&row.tenant.sandbox)
        .bind(expected_etag)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return match self.get_resource(&row.kind, &row.tenant, &row.id).await? {
                Some(_) => Ok(Update::Stale),
                None => Ok(Update::NotFound),
            };
        }
        let sql = format!(
            "INSERT INTO resources ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (kind, id) DO UPDATE SET etag = excluded.etag, updated_at = excluded.updated_at, \
             doc = excluded.doc, secret = excluded.secret \
             WHERE resources.org = excluded.org AND resources.sandbox = excluded.sandbox"
        );
        let written = sqlx::query(&sql)
            .bind(&version.kind)
            .bind(&version.id)
            .bind(&version.tenant.org)
            .bind(&version.tenant.sandbox)
            .bind(&version.etag)
            .bind(version.created_at)
            .bind(version.updated_at)
            .bind(serde_json::to_string(&version.doc)?)
            .bind(version.secret.clone())
            .execute(&mut *tx)
            .await?;
        if written.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(StoreError::Conflict);
        }
        tx.commit().await?;
        Ok(Update::Done)
    }

    /// Deletes a resource; false if there was none.
    pub async fn delete_resource(&self, kind: &str, tenant: &Tenant, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM resources WHERE kind = $1 AND id = $2 AND org = $3 AND sandbox = $4")
            .bind(kind)
            .bind(id)
            .bind(&tenant.org)
            .bind(&tenant.sandbox)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many resources of any kind live in `tenant`'s sandbox.
    pub async fn count_resources(&self, tenant: &Tenant) -> Result<i64, StoreError> {
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE org = $1 AND sandbox = $2")
            .bind(&tenant.org)
            .bind(&tenant.sandbox)
            .fetch_one(&self.pool)
            .await?;
        Ok(count)
    }
}

fn read_row(row: &AnyRow) -> Result<ResourceRow, StoreError> {
    let doc: String = row.try_get("doc")?;
    Ok(ResourceRow {
        kind: row.try_get("kind")?,
        id: row.try_get("id")?,
        tenant: Tenant {
            org: row.try_get("org")?,
            sandbox: row.try_get("sandbox")?,
        },
        etag: row.try_get("etag")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        doc: serde_json::from_str(&doc)?,
        secret: row.try_get("secret")?,
    })
}
