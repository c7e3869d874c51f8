//! What Catalog (datasets, batches) and Data Prep (mapping sets) answer.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A dataset (§10): one Delta table of the lake.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetItem {
    pub id: String,
    pub name: String,
    pub description: String,
    pub ims_org: String,
    pub sandbox_name: String,
    pub sandbox_id: String,
    /// Epoch milliseconds.
    pub created: i64,
    pub updated: i64,
    pub created_client: String,
    pub created_user: String,
    pub updated_user: String,
    pub version: String,
    #[schema(value_type = Option<Object>)]
    pub schema_ref: Option<Value>,
    /// `{}` until data is written, then the table's columns.
    #[schema(value_type = Object)]
    pub observable_schema: Value,
    #[schema(value_type = Object)]
    pub tags: Value,
    #[schema(value_type = Object)]
    pub file_description: Value,
    /// Where the dataset's Delta table lives.
    pub location: String,
    pub last_batch_id: Option<String>,
    pub last_batch_status: Option<String>,
    pub last_successful_batch: Option<String>,
    /// Inlet, in the item only: the table's health (`version`, `files`, `smallFiles`,
    /// `bytes`, `lastCheckpoint`, `logEntriesSinceCheckpoint`) and `lastMaintenance` (what
    /// the last maintenance pass did, and `at`); null before the first write.
    #[schema(value_type = Option<Object>)]
    pub inlet_health: Option<Value>,
}

/// A batch: what one attempt of a run wrote.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem {
    pub id: String,
    pub ims_org: String,
    pub sandbox_name: String,
    #[schema(example = "success")]
    pub status: String,
    pub created: i64,
    pub updated: i64,
    pub started: i64,
    pub completed: Option<i64>,
    #[schema(value_type = Vec<Object>)]
    pub related_objects: Vec<Value>,
    #[schema(value_type = Object)]
    pub metrics: Value,
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Value>,
    /// The Delta table version the batch's commit created.
    pub delta_version: Option<i64>,
    pub flow_id: String,
    pub run_id: String,
    pub version: String,
}

/// A mapping set at one of its versions (§11).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MappingSetItem {
    pub id: String,
    pub version: i64,
    pub created_date: i64,
    pub modified_date: i64,
    pub created_by: String,
    pub modified_by: String,
    /// Each entry in both of the platform's forms.
    #[schema(value_type = Vec<Object>)]
    pub mappings: Vec<Value>,
    #[schema(value_type = Option<Object>)]
    pub output_schema: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<Value>,
    pub name: Option<String>,
    pub description: Option<String>,
}

/// A page of mapping sets, newest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MappingSetPage {
    pub data: Vec<MappingSetItem>,
    #[serde(rename = "_page")]
    pub page: MappingPageInfo,
    #[serde(rename = "_links")]
    pub links: super::Links,
}

/// How many mapping sets there are, and the page size.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MappingPageInfo {
    pub count: i64,
    pub limit: i64,
}

/// The summary `POST`/`PUT /mappingSets` answer.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MappingSetSummary {
    pub id: String,
    pub version: i64,
    pub created_date: i64,
    pub modified_date: i64,
    pub created_by: String,
    pub modified_by: String,
}
