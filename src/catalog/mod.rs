//! Catalog (§10): datasets, each one Delta table in the lake, and batches, one per run
//! that writes. Both are documents in the store's generic `resources` table (kinds
//! [`DATASET`] and [`BATCH`]), scoped to one tenant.

mod batches;
mod observable;

pub use batches::{
    BATCH, BatchIssue, BatchResult, BatchStatus, create_batch, delete_old_batch, finish_batch, get_batch, open_batch,
};
pub use observable::observable_schema;

use serde_json::{Map, Value, json};

use crate::identity::{Caller, Tenant};
use crate::lake::arrow::datatypes::Schema;
use crate::specs::Violation;
use crate::store::{ResourceRow, Store, StoreError, Update, now_millis};

/// The resource kind of datasets.
pub const DATASET: &str = "dataset";

/// Why a catalog operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Fields of a request body break the rules.
    #[error("invalid: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Violation>),
    /// No dataset with that id in the tenant.
    #[error("dataset {0} was not found")]
    DatasetNotFound(String),
    /// No batch with that id in the tenant.
    #[error("batch {0} was not found")]
    BatchNotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new catalog id: 24 lowercase hex digits, like the platform's.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

/// A `POST /dataSets` body, checked.
#[derive(Debug, Clone)]
pub struct DatasetInput {
    pub name: String,
    pub description: String,
    /// `{id, contentType}` when given; `null` otherwise.
    pub schema_ref: Value,
    /// Kept as given (an object), as clients send them.
    pub tags: Value,
    pub file_description: Value,
}

impl DatasetInput {
    /// Reads the body leniently: unknown fields are ignored; `name` is required.
    pub fn from_body(body: &Value) -> Result<DatasetInput, CatalogError> {
        let Some(fields) = body.as_object() else {
            return Err(CatalogError::Invalid(vec![Violation::new(
                "",
                "the body must be a JSON object",
            )]));
        };
        let mut violations = Vec::new();
        let name = match fields.get("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
            Some(Value::String(_)) => {
                violations.push(Violation::new("/name", "must not be empty"));
                String::new()
            }
            Some(_) => {
                violations.push(Violation::new("/name", "must be a string"));
                String::new()
            }
            None => {
                violations.push(Violation::new("/name", "is required"));
                String::new()
            }
        };
        let description = match fields.get("description") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(_) => {
                violations.push(Violation::new("/description", "must be a string"));
                String::new()
            }
        };
        violations.extend(crate::bounds::too_long("/name", &name, crate::bounds::MAX_NAME));
        violations.extend(crate::bounds::too_long(
            "/description",
            &description,
            crate::bounds::MAX_DESCRIPTION,
        ));
        let schema_ref = optional_object(fields, "schemaRef", &mut violations);
        if let Some(id) = schema_ref.get("id")
            && !id.is_string()
        {
            violations.push(Violation::new("/schemaRef/id", "must be a string"));
        }
        let tags = optional_object(fields, "tags", &mut violations);
        let file_description = optional_object(fields, "fileDescription", &mut violations);
        if !violations.is_empty() {
            return Err(CatalogError::Invalid(violations));
        }
        Ok(DatasetInput {
            name,
            description,
            schema_ref,
            tags,
            file_description,
        })
    }
}

fn optional_object(fields: &Map<String, Value>, name: &str, violations: &mut Vec<Violation>) -> Value {
    match fields.get(name) {
        None | Some(Value::Null) => Value::Null,
        Some(value @ Value::Object(_)) => value.clone(),
        Some(_) => {
            violations.push(Violation::new(format!("/{name}"), "must be an object"));
            Value::Null
        }
    }
}

/// Creates a dataset record and returns its id. Its table is created by the first write.
pub async fn create_dataset(store: &Store, caller: &Caller, input: &DatasetInput) -> Result<String, CatalogError> {
    let id = new_id();
    let now = now_millis();
    let doc = json!({
        "id": id,
        "name": input.name,
        "description": input.description,
        "imsOrg": caller.tenant.org,
        "sandboxName": caller.tenant.sandbox,
        "sandboxId": caller.tenant.sandbox_id(),
        "created": now,
        "updated": now,
        "createdClient": caller.client_id,
        "createdUser": caller.subject,
        "updatedUser": caller.subject,
        "version": "1.0.0",
        "schemaRef": input.schema_ref,
        "observableSchema": {},
        "tags": if input.tags.is_null() { json!({}) } else { input.tags.clone() },
        "fileDescription": if input.file_description.is_null() { json!({"format": "delta"}) } else { input.file_description.clone() },
    });
    store
        .insert_resource(&new_row(DATASET, &id, &caller.tenant, now, doc))
        .await?;
    tracing::info!(dataset = %id, "dataset created");
    Ok(id)
}

/// The dataset's stored document, if it exists in `tenant`.
pub async fn get_dataset(store: &Store, tenant: &Tenant, id: &str) -> Result<Option<Value>, CatalogError> {
    Ok(store.get_resource(DATASET, tenant, id).await?.map(|row| row.doc))
}

/// Deletes the dataset record and its batches; false when there was no such dataset. The
/// Delta table stays in the lake (docs/lake.md).
pub async fn delete_dataset(store: &Store, tenant: &Tenant, id: &str) -> Result<bool, CatalogError> {
    if !store.delete_resource(DATASET, tenant, id).await? {
        return Ok(false);
    }
    for batch in batches::of_dataset(store, tenant, id).await? {
        store.delete_resource(BATCH, tenant, &batch).await?;
    }
    tracing::info!(dataset = %id, "dataset deleted");
    Ok(true)
}

/// Records the columns of the dataset's table as its `observableSchema`.
pub async fn set_observable_schema(
    store: &Store,
    tenant: &Tenant,
    id: &str,
    schema: &Schema,
) -> Result<(), CatalogError> {
    let observed = observable_schema(schema);
    modify(store, DATASET, tenant, id, |doc| {
        doc["observableSchema"] = observed.clone();
        Ok(true)
    })
    .await?
    .ok_or_else(|| CatalogError::DatasetNotFound(id.to_string()))?;
    Ok(())
}

fn new_row(kind: &str, id: &str, tenant: &Tenant, now: i64, doc: Value) -> ResourceRow {
    ResourceRow {
        kind: kind.to_string(),
        id: id.to_string(),
        tenant: tenant.clone(),
        etag: uuid::Uuid::new_v4().to_string(),
        created_at: now,
        updated_at: now,
        doc,
        secret: None,
    }
}

/// Read, change, write back under the etag the read saw; retried when another process
/// changed the document in between. `change` answers whether it changed anything (nothing
/// is written otherwise). `None` when the document does not exist.
async fn modify(
    store: &Store,
    kind: &str,
    tenant: &Tenant,
    id: &str,
    mut change: impl FnMut(&mut Value) -> Result<bool, CatalogError>,
) -> Result<Option<Value>, CatalogError> {
    loop {
        let Some(row) = store.get_resource(kind, tenant, id).await? else {
            return Ok(None);
        };
        let mut doc = row.doc.clone();
        if !change(&mut doc)? {
            return Ok(Some(doc));
        }
        let now = now_millis();
        doc["updated"] = json!(now);
        let updated = ResourceRow {
            etag: uuid::Uuid::new_v4().to_string(),
            updated_at: now,
            doc: doc.clone(),
            ..row.clone()
        };
        match store.update_resource(&updated, &row.etag).await? {
            Update::Done => return Ok(Some(doc)),
            Update::NotFound => return Ok(None),
            Update::Stale => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_lowercase_hex_digits() {
        let id = new_id();
        assert_eq!(id.len(), 24);
        assert!(
            id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{id}"
        );
        assert_ne!(id, new_id());
    }

    #[test]
    fn bodies_are_read_leniently_but_name_is_required() {
        let input = DatasetInput::from_body(&json!({
            "name": "orders", "schemaRef": {"id": "https://ns/x", "contentType": "c"},
            "tags": {"t": ["1"]}, "unknown": true
        }))
        .unwrap();
        assert_eq!(input.name, "orders");
        assert_eq!(input.schema_ref["id"], "https://ns/x");
        assert_eq!(input.description, "");
        for (body, path) in [
            (json!({"description": "x"}), "/name"),
            (json!({"name": ""}), "/name"),
            (json!({"name": 3}), "/name"),
            (json!({"name": "x", "schemaRef": "s"}), "/schemaRef"),
            (json!({"name": "x", "schemaRef": {"id": 1}}), "/schemaRef/id"),
            (json!([]), ""),
        ] {
            match DatasetInput::from_body(&body) {
                Err(CatalogError::Invalid(violations)) => assert_eq!(violations[0].path, path, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}
