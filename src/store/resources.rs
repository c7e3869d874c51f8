//! Resources (connections, source and target connections, flows, datasets, batches,
//! mapping sets), stored as JSON documents scoped to one (org, sandbox), each written in
//! one transaction with its `name` column and its searchable fields (`fields.rs`).

use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyConnection, Row};

use super::{Store, StoreError, fields, is_unique_violation};
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

pub(super) const COLUMNS: &str = "kind, id, org, sandbox, etag, created_at, updated_at, doc, secret";

type AnyQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

impl Store {
    /// Inserts a new resource; `Conflict` if the id is taken.
    pub async fn insert_resource(&self, row: &ResourceRow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert(&mut tx, row).await?;
        fields::replace(&mut tx, &row.kind, &row.id, &row.doc).await?;
        tx.commit().await?;
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

    /// Every resource of `kind` in `tenant`, oldest first (for the few lists that are not
    /// paged in SQL: `Store::list_page` pages the others).
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
        let mut tx = self.pool.begin().await?;
        if !update(&mut tx, row, expected_etag).await? {
            tx.rollback().await?;
            return self.stale_or_missing(row).await;
        }
        fields::replace(&mut tx, &row.kind, &row.id, &row.doc).await?;
        tx.commit().await?;
        Ok(Update::Done)
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
        if !update(&mut tx, row, expected_etag).await? {
            tx.rollback().await?;
            return self.stale_or_missing(row).await;
        }
        let sql = format!(
            "INSERT INTO resources ({COLUMNS}, name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (kind, id) DO UPDATE SET etag = excluded.etag, updated_at = excluded.updated_at, \
             doc = excluded.doc, secret = excluded.secret, name = excluded.name \
             WHERE resources.org = excluded.org AND resources.sandbox = excluded.sandbox"
        );
        let written = bind_row(sqlx::query(&sql), version)?.execute(&mut *tx).await?;
        if written.rows_affected() != 1 {
            tx.rollback().await?;
            return Err(StoreError::Conflict);
        }
        fields::replace(&mut tx, &row.kind, &row.id, &row.doc).await?;
        fields::replace(&mut tx, &version.kind, &version.id, &version.doc).await?;
        tx.commit().await?;
        Ok(Update::Done)
    }

    /// Deletes a resource; false if there was none.
    pub async fn delete_resource(&self, kind: &str, tenant: &Tenant, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM resources WHERE kind = $1 AND id = $2 AND org = $3 AND sandbox = $4")
            .bind(kind)
            .bind(id)
            .bind(&tenant.org)
            .bind(&tenant.sandbox)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            fields::remove(&mut tx, kind, id).await?;
        }
        tx.commit().await?;
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

    async fn stale_or_missing(&self, row: &ResourceRow) -> Result<Update, StoreError> {
        match self.get_resource(&row.kind, &row.tenant, &row.id).await? {
            Some(_) => Ok(Update::Stale),
            None => Ok(Update::NotFound),
        }
    }
}

/// Binds a row's columns, then its `name`, in `COLUMNS` order.
fn bind_row<'q>(query: AnyQuery<'q>, row: &'q ResourceRow) -> Result<AnyQuery<'q>, StoreError> {
    Ok(query
        .bind(&row.kind)
        .bind(&row.id)
        .bind(&row.tenant.org)
        .bind(&row.tenant.sandbox)
        .bind(&row.etag)
        .bind(row.created_at)
        .bind(row.updated_at)
        .bind(serde_json::to_string(&row.doc)?)
        .bind(row.secret.clone())
        .bind(fields::name_of(&row.doc)))
}

async fn insert(connection: &mut AnyConnection, row: &ResourceRow) -> Result<(), StoreError> {
    let sql = format!("INSERT INTO resources ({COLUMNS}, name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    bind_row(sqlx::query(&sql), row)?
        .execute(&mut *connection)
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

/// Writes `row` over the stored one if its etag is still `expected_etag`; false if not.
async fn update(connection: &mut AnyConnection, row: &ResourceRow, expected_etag: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE resources SET etag = $1, updated_at = $2, doc = $3, secret = $4, name = $5 \
         WHERE kind = $6 AND id = $7 AND org = $8 AND sandbox = $9 AND etag = $10",
    )
    .bind(&row.etag)
    .bind(row.updated_at)
    .bind(serde_json::to_string(&row.doc)?)
    .bind(row.secret.clone())
    .bind(fields::name_of(&row.doc))
    .bind(&row.kind)
    .bind(&row.id)
    .bind(&row.tenant.org)
    .bind(&row.tenant.sandbox)
    .bind(expected_etag)
    .execute(&mut *connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) fn read_row(row: &AnyRow) -> Result<ResourceRow, StoreError> {
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
