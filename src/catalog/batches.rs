//! Batches: one per run that writes to a dataset, with its status, row count and the
//! Delta table version it committed.

use serde::Serialize;
use serde_json::{Value, json};

use super::{CatalogError, DATASET, modify, new_id, new_row};
use crate::identity::Tenant;
use crate::store::{FieldFilter, FieldTest, OffsetPage, SortBy, Store, now_millis};

/// The resource kind of batches.
pub const BATCH: &str = "batch";

/// How a batch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchStatus {
    Success,
    Failed,
}

impl BatchStatus {
    fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Success => "success",
            BatchStatus::Failed => "failed",
        }
    }
}

/// One reason a batch failed, as the platform lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchIssue {
    pub code: String,
    pub description: String,
}

/// The end of a batch.
#[derive(Clone, Debug)]
pub struct BatchResult {
    pub status: BatchStatus,
    /// Rows written (0 when nothing was committed).
    pub record_count: u64,
    /// The Delta table version the batch's commit created, when it made one.
    pub table_version: Option<i64>,
    pub errors: Vec<BatchIssue>,
}

/// Starts a batch (status `processing`) for a run of `flow_id` writing to `dataset_id`;
/// returns its id.
pub async fn create_batch(
    store: &Store,
    tenant: &Tenant,
    dataset_id: &str,
    run_id: &str,
    flow_id: &str,
) -> Result<String, CatalogError> {
    let id = new_id();
    open_batch(store, tenant, &id, dataset_id, run_id, flow_id).await?;
    Ok(id)
}

/// Starts batch `id` (from [`new_id`]), as [`create_batch`] does: a run names its batch
/// before the batch exists, so that no batch can exist that its run does not name.
pub async fn open_batch(
    store: &Store,
    tenant: &Tenant,
    id: &str,
    dataset_id: &str,
    run_id: &str,
    flow_id: &str,
) -> Result<(), CatalogError> {
    if store.get_resource(DATASET, tenant, dataset_id).await?.is_none() {
        return Err(CatalogError::DatasetNotFound(dataset_id.to_string()));
    }
    let now = now_millis();
    let doc = json!({
        "id": id,
        "imsOrg": tenant.org,
        "sandboxName": tenant.sandbox,
        "status": "processing",
        "created": now,
        "updated": now,
        "started": now,
        "completed": null,
        "relatedObjects": [{"type": "dataSet", "id": dataset_id}],
        "metrics": {"recordCount": 0},
        "errors": [],
        "deltaVersion": null,
        "flowId": flow_id,
        "runId": run_id,
        "version": "1.0.0",
    });
    store.insert_resource(&new_row(BATCH, id, tenant, now, doc)).await?;
    Ok(())
}

/// Gives a `processing` batch its final status, row count, table version and errors, and
/// records it on its dataset as `lastBatchId`/`lastBatchStatus` (and
/// `lastSuccessfulBatch`). A batch that has its final status already keeps it (closing is
/// idempotent), except that with `correct` a `failed` batch becomes a `success`: its
/// commit was found in the table after its attempt had been given up.
pub async fn finish_batch(
    store: &Store,
    tenant: &Tenant,
    batch_id: &str,
    result: &BatchResult,
    correct: bool,
) -> Result<(), CatalogError> {
    let status = result.status.as_str();
    let mut changed = false;
    let doc = modify(store, BATCH, tenant, batch_id, |doc| {
        let open = doc["status"] == "processing";
        let corrected = correct && doc["status"] == "failed" && result.status == BatchStatus::Success;
        changed = open || corrected;
        if changed {
            doc["status"] = json!(status);
            doc["completed"] = json!(now_millis());
            doc["metrics"]["recordCount"] = json!(result.record_count);
            doc["deltaVersion"] = json!(result.table_version);
            doc["errors"] = json!(result.errors);
        }
        Ok(changed)
    })
    .await?
    .ok_or_else(|| CatalogError::BatchNotFound(batch_id.to_string()))?;
    let Some(dataset) = dataset_of(&doc).filter(|_| changed) else {
        return Ok(());
    };
    // The dataset may have been deleted while the batch ran; the batch still records it.
    modify(store, DATASET, tenant, &dataset, |doc| {
        doc["lastBatchId"] = json!(batch_id);
        doc["lastBatchStatus"] = json!(status);
        if result.status == BatchStatus::Success {
            doc["lastSuccessfulBatch"] = json!(batch_id);
        }
        Ok(true)
    })
    .await?;
    Ok(())
}

/// Deletes a batch that retention lets go, unless its dataset still names it as its last
/// (or last successful) batch; true if it was deleted.
pub async fn delete_old_batch(store: &Store, tenant: &Tenant, batch_id: &str) -> Result<bool, CatalogError> {
    let Some(batch) = store.get_resource(BATCH, tenant, batch_id).await? else {
        return Ok(false);
    };
    if let Some(dataset) = dataset_of(&batch.doc)
        && let Some(row) = store.get_resource(DATASET, tenant, &dataset).await?
        && (row.doc["lastBatchId"] == batch_id || row.doc["lastSuccessfulBatch"] == batch_id)
    {
        return Ok(false);
    }
    Ok(store.delete_resource(BATCH, tenant, batch_id).await?)
}

/// The batch's document, if it exists in `tenant`.
pub async fn get_batch(store: &Store, tenant: &Tenant, id: &str) -> Result<Option<Value>, CatalogError> {
    Ok(store.get_resource(BATCH, tenant, id).await?.map(|row| row.doc))
}

/// The ids of the batches that wrote to `dataset_id`.
pub(super) async fn of_dataset(store: &Store, tenant: &Tenant, dataset_id: &str) -> Result<Vec<String>, CatalogError> {
    let mut ids = Vec::new();
    loop {
        let page = OffsetPage {
            filters: vec![FieldFilter {
                path: "relatedObjects.id".into(),
                test: FieldTest::AnyOf(vec![dataset_id.to_string()]),
            }],
            order: vec![(SortBy::Id, false)],
            start: ids.len(),
            limit: 1_000,
        };
        let rows = store.list_offset(BATCH, tenant, &page).await?;
        let done = rows.len() < page.limit;
        ids.extend(rows.into_iter().map(|row| row.id));
        if done {
            return Ok(ids);
        }
    }
}

fn dataset_of(doc: &Value) -> Option<String> {
    doc["relatedObjects"]
        .as_array()?
        .iter()
        .find(|o| o["type"] == "dataSet")
        .and_then(|o| o["id"].as_str())
        .map(str::to_string)
}
