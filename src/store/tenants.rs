//! Sandboxes and API clients: who may call Inlet, and where their resources live.

use sqlx::Row;

use super::{Store, StoreError, is_unique_violation};

/// A sandbox other than `prod` (which every org has without a row).
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxRow {
    pub org: String,
    pub name: String,
    pub id: String,
    pub title: String,
    pub sandbox_type: String,
    pub created_by: String,
    pub created_at: i64,
}

/// A registered API client. Only a hash of its secret is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiClient {
    pub client_id: String,
    pub org: String,
    pub name: String,
    pub secret_hash: String,
    pub created_at: i64,
}

impl Store {
    /// Records a new sandbox; `Conflict` if the org has one of that name.
    pub async fn insert_sandbox(&self, sandbox: &SandboxRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sandboxes (org, name, id, title, sandbox_type, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&sandbox.org)
        .bind(&sandbox.name)
        .bind(&sandbox.id)
        .bind(&sandbox.title)
        .bind(&sandbox.sandbox_type)
        .bind(&sandbox.created_by)
        .bind(sandbox.created_at)
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

    /// The org's sandbox `name`, if it was created.
    pub async fn get_sandbox(&self, org: &str, name: &str) -> Result<Option<SandboxRow>, StoreError> {
        let row = sqlx::query(
            "SELECT org, name, id, title, sandbox_type, created_by, created_at FROM sandboxes \
             WHERE org = $1 AND name = $2",
        )
        .bind(org)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| read_sandbox(&r)).transpose()
    }

    /// The org's created sandboxes, by name.
    pub async fn list_sandboxes(&self, org: &str) -> Result<Vec<SandboxRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT org, name, id, title, sandbox_type, created_by, created_at FROM sandboxes \
             WHERE org = $1 ORDER BY name",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_sandbox).collect()
    }

    /// Deletes the org's sandbox `name` if it holds no resources. Returns false if there
    /// was no such sandbox; `Conflict` if it still holds resources. The check and the
    /// delete are one statement, so a resource created meanwhile cannot be orphaned.
    pub async fn delete_empty_sandbox(&self, org: &str, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM sandboxes WHERE org = $1 AND name = $2 AND NOT EXISTS \
             (SELECT 1 FROM resources WHERE org = $1 AND sandbox = $2)",
        )
        .bind(org)
        .bind(name)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        match self.get_sandbox(org, name).await? {
            Some(_) => Err(StoreError::Conflict),
            None => Ok(false),
        }
    }

    /// Registers an API client; `Conflict` if the id is taken.
    pub async fn insert_client(&self, client: &ApiClient) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_clients (client_id, org, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&client.client_id)
        .bind(&client.org)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(client.created_at)
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

    /// The client with this id, if registered.
    pub async fn get_client(&self, client_id: &str) -> Result<Option<ApiClient>, StoreError> {
        let row =
            sqlx::query("SELECT client_id, org, name, secret_hash, created_at FROM api_clients WHERE client_id = $1")
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok(ApiClient {
                client_id: r.try_get("client_id")?,
                org: r.try_get("org")?,
                name: r.try_get("name")?,
                secret_hash: r.try_get("secret_hash")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }
}

fn read_sandbox(row: &sqlx::any::AnyRow) -> Result<SandboxRow, StoreError> {
    Ok(SandboxRow {
        org: row.try_get("org")?,
        name: row.try_get("name")?,
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        sandbox_type: row.try_get("sandbox_type")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}
