//! The bodies that create and change resources, as the OpenAPI document describes them
//! (with the platform's own examples). Handlers read bodies field by field (`fields.rs`)
//! rather than through these types, so that one answer names every broken rule by its
//! JSON path; numbers and booleans may arrive as strings, as the platform's clients send
//! them.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A number or a string of digits.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum NumberOrText {
    Number(i64),
    Text(String),
}

/// A boolean, or `"true"`/`"false"` in any case.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BoolOrText {
    Bool(bool),
    Text(String),
}

/// A spec named by id (and version, `1.0` by default).
#[derive(Deserialize, ToSchema)]
pub struct SpecChoice {
    #[schema(example = "74a1c565-4e59-48d7-9d67-7c03b8a13137")]
    pub id: String,
    #[schema(example = "1.0")]
    pub version: Option<String>,
}

/// `POST /connections` (§6).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "PostgreSQL base connection", "description": "orders database",
    "auth": {"specName": "Basic Authentication", "params": {"server": "db.example.com", "port": "5432",
        "database": "shop", "username": "reader", "password": "s3cret", "sslMode": "Verify-Full"}},
    "connectionSpec": {"id": "74a1c565-4e59-48d7-9d67-7c03b8a13137", "version": "1.0"}}))]
pub struct CreateConnection {
    #[schema(max_length = 256)]
    pub name: String,
    #[schema(max_length = 4096)]
    pub description: Option<String>,
    pub auth: AuthChoice,
    pub connection_spec: SpecChoice,
}

/// An auth spec and its parameters, checked against the spec's JSON schema.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthChoice {
    pub spec_name: String,
    #[schema(value_type = Object)]
    pub params: Value,
}

/// One JSON Patch operation (`op` in any case: add, replace, remove).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"op": "replace", "path": "/name", "value": "renamed"}))]
pub struct PatchOperation {
    pub op: String,
    pub path: String,
    #[schema(value_type = Option<Object>)]
    pub value: Option<Value>,
}

/// `POST /sourceConnections` (§8).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "orders source", "baseConnectionId": "<connection id>",
    "data": {"format": "tabular"}, "params": {"tableName": "public.orders", "columns": [{"name": "id", "type": "long"}]},
    "connectionSpec": {"id": "74a1c565-4e59-48d7-9d67-7c03b8a13137", "version": "1.0"}}))]
pub struct CreateSourceConnection {
    #[schema(max_length = 256)]
    pub name: String,
    #[schema(max_length = 4096)]
    pub description: Option<String>,
    pub base_connection_id: String,
    pub data: Option<FormatChoice>,
    pub params: SourceParamsChoice,
    pub connection_spec: Option<SpecChoice>,
}

/// `data` of a source or target connection.
#[derive(Deserialize, ToSchema)]
pub struct FormatChoice {
    pub format: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
}

/// The table to read, its columns (names, or `{name, type}`), and no CDC yet.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceParamsChoice {
    pub table_name: String,
    #[schema(value_type = Option<Vec<Object>>)]
    pub columns: Option<Vec<Value>>,
    /// Change data capture (docs/cdc.md): checked against the table, the server and the user.
    pub cdc_enabled: Option<bool>,
}

/// `POST /targetConnections` (§8).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "orders target", "data": {"format": "delta"},
    "params": {"dataSetId": "<dataset id>"},
    "connectionSpec": {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c", "version": "1.0"}}))]
pub struct CreateTargetConnection {
    #[schema(max_length = 256)]
    pub name: String,
    #[schema(max_length = 4096)]
    pub description: Option<String>,
    pub data: Option<FormatChoice>,
    pub params: TargetParamsChoice,
    pub connection_spec: SpecChoice,
}

/// The dataset to write.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetParamsChoice {
    pub data_set_id: String,
}

/// `POST /flows` (§9).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "orders to lake", "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
    "sourceConnectionIds": ["<source connection id>"], "targetConnectionIds": ["<target connection id>"],
    "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}}}],
    "scheduleParams": {"startTime": "1893456000", "frequency": "minute", "interval": "15", "backfill": "true"}}))]
pub struct CreateFlow {
    #[schema(max_length = 256)]
    pub name: String,
    #[schema(max_length = 4096)]
    pub description: Option<String>,
    pub flow_spec: SpecChoice,
    pub source_connection_ids: Vec<String>,
    pub target_connection_ids: Vec<String>,
    pub transformations: Option<Vec<TransformationChoice>>,
    pub schedule_params: ScheduleChoice,
    #[schema(value_type = Option<Object>)]
    pub options: Option<Value>,
    /// Inlet: the flow's own alert thresholds (docs/alerts.md); absent: the server's.
    pub inlet_alerts: Option<crate::alerts::FlowThresholds>,
}

/// `Copy` (with `params.deltaColumn`) or `Mapping` (with `params.mappingId`).
#[derive(Deserialize, ToSchema)]
pub struct TransformationChoice {
    pub name: String,
    #[schema(value_type = Object)]
    pub params: Value,
}

/// When and how often a flow runs.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleChoice {
    pub start_time: NumberOrText,
    #[schema(example = "hour")]
    pub frequency: String,
    pub interval: Option<NumberOrText>,
    pub backfill: Option<BoolOrText>,
}

/// `POST /runs` (§9): an on-demand run of a `once` flow.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"flowId": "<flow id>", "params": {"startTime": "1714608000", "windowStartTime": "1714521600",
    "windowEndTime": "1714608000", "deltaColumn": {"name": "updated_at"}}}))]
pub struct CreateRun {
    pub flow_id: String,
    pub params: RunWindow,
}

/// The window of an on-demand run and the column that places rows in it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunWindow {
    pub start_time: Option<NumberOrText>,
    pub window_start_time: NumberOrText,
    pub window_end_time: NumberOrText,
    pub delta_column: DeltaColumnChoice,
}

/// A column, and how to read a timestamp without time zone (`UTC` or `±HH:MM`).
#[derive(Deserialize, ToSchema)]
pub struct DeltaColumnChoice {
    pub name: String,
    pub timezone: Option<String>,
}

/// `POST /dataSets` (§10).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "orders", "description": "orders from the shop database",
    "schemaRef": {"id": "https://ns.adobe.com/acme/schemas/orders", "contentType": "application/vnd.adobe.xed-full+json;version=1"}}))]
pub struct CreateDataset {
    #[schema(max_length = 256)]
    pub name: String,
    #[schema(max_length = 4096)]
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub schema_ref: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub tags: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub file_description: Option<Value>,
}

/// `POST /mappingSets` and `PUT /mappingSets/{id}` (§11).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"outputSchema": {}, "mappings": [{"sourceType": "ATTRIBUTE", "source": "id", "destination": "order_id"}]}))]
pub struct MappingSetBody {
    #[schema(value_type = Vec<Object>)]
    pub mappings: Vec<Value>,
    #[schema(value_type = Option<Object>)]
    pub output_schema: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<Value>,
    #[schema(max_length = 256)]
    pub name: Option<String>,
    #[schema(max_length = 4096)]
    pub description: Option<String>,
}

/// `POST /sandboxes` (§2).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "dev", "title": "Development", "type": "development"}))]
pub struct CreateSandbox {
    pub name: String,
    #[schema(max_length = 256)]
    pub title: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `POST /ims/token/v3`, form-encoded.
#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    #[schema(example = "client_credentials")]
    pub grant_type: String,
    pub client_id: String,
    pub client_secret: String,
    pub scope: Option<String>,
}
