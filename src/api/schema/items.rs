//! What the API answers about each resource. Free-form parts are `Object`s; fields a
//! later version may add beside these are allowed (`additionalProperties` is not closed).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The audit fields of every Flow Service item (§6).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Audit {
    pub id: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub updated_by: String,
    pub created_client: String,
    pub updated_client: String,
    pub sandbox_id: String,
    pub sandbox_name: String,
    pub ims_org_id: String,
    /// The etag, new on every change.
    pub version: String,
    pub etag: String,
}

/// A spec named by id and version.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SpecRef {
    #[schema(example = "74a1c565-4e59-48d7-9d67-7c03b8a13137")]
    pub id: String,
    #[schema(example = "1.0")]
    pub version: String,
}

/// A base connection (§6); secret parameters read `<secret>`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionItem {
    #[serde(flatten)]
    pub audit: Audit,
    pub name: String,
    pub description: String,
    pub connection_spec: SpecRef,
    #[schema(example = "enabled")]
    pub state: String,
    pub auth: AuthItem,
}

/// A connection's authentication: the auth spec and its parameters (secrets masked).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthItem {
    #[schema(example = "Basic Authentication")]
    pub spec_name: String,
    #[schema(value_type = Object)]
    pub params: Value,
}

/// A source connection (§8): a table of a base connection.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceConnectionItem {
    #[serde(flatten)]
    pub audit: Audit,
    #[serde(flatten)]
    pub body: SourceConnectionBody,
}

/// What a source connection is, apart from its audit fields: what the checks of a create
/// or patch produce and the store keeps.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceConnectionBody {
    pub name: String,
    pub description: String,
    pub base_connection_id: String,
    pub state: String,
    pub data: DataFormat,
    pub params: SourceParams,
    pub connection_spec: SpecRef,
    pub inherited_attributes: SourceInherited,
}

/// `data` of a source or target connection.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DataFormat {
    #[schema(example = "tabular")]
    pub format: String,
    /// A target's XDM schema reference, kept as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
}

/// The table a source connection reads, and its columns when restricted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceParams {
    #[schema(example = "public.orders")]
    pub table_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<ColumnName>>,
    /// Change data capture: the dataset mirrors the table (docs/cdc.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdc_enabled: Option<bool>,
}

/// A column named with its Inlet type.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ColumnName {
    pub name: String,
    #[serde(rename = "type")]
    #[schema(example = "long")]
    pub kind: String,
}

/// What a source connection inherits from its base connection.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceInherited {
    pub base_connection: BaseRef,
}

/// A base connection and its spec.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BaseRef {
    pub id: String,
    pub connection_spec: SpecRef,
}

/// A target connection (§8): a dataset of the data lake.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TargetConnectionItem {
    #[serde(flatten)]
    pub audit: Audit,
    #[serde(flatten)]
    pub body: TargetConnectionBody,
}

/// What a target connection is, apart from its audit fields.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetConnectionBody {
    pub name: String,
    pub description: String,
    pub state: String,
    pub data: DataFormat,
    pub params: TargetParams,
    pub connection_spec: SpecRef,
}

/// The dataset a target connection writes.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetParams {
    pub data_set_id: String,
}

/// A dataflow (§9).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowItem {
    #[serde(flatten)]
    pub audit: Audit,
    #[serde(flatten)]
    pub body: FlowBody,
    #[schema(example = "enabled")]
    pub state: String,
    /// `/runs?property=flowId==<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_details: Option<LastRunDetails>,
    /// Inlet: the failed window that holds the flow's later ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<HeldBy>,
    /// Inlet: a change data capture flow's replication slot, as the source reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inlet_cdc: Option<FlowCapture>,
    /// Inlet: the flow is paused by a schema change its policy does not take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inlet_paused: Option<FlowPause>,
}

/// Inlet: why a flow is paused by a schema change, and what the user may choose
/// (docs/flows.md).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowPause {
    /// `schemaChange`.
    pub reason: String,
    /// The paused run, which holds the flow's later windows.
    pub run_id: String,
    pub message: String,
    pub schema_changes: Vec<crate::schema_changes::SchemaChange>,
    pub choices: Vec<PauseChoice>,
}

/// One way on for a paused flow.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseChoice {
    pub choice: crate::schema_changes::SchemaChoice,
    /// The request that makes it: `/runs/{id}/action?op=re-trigger&schemaChanges=...`.
    pub post: String,
    /// What it does.
    pub does: String,
}

/// Inlet: a change data capture flow's slot and publication at its source (docs/cdc.md).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowCapture {
    pub slot: String,
    pub publication: String,
    /// `active`, `invalidated` (re-snapshot to go on), `absent` (the first run creates
    /// it) or `unknown` (the source could not be asked; `message` says why).
    #[schema(example = "active")]
    pub status: String,
    /// A re-snapshot (`op=resnapshot`) waits for the flow's next run.
    pub resnapshot_requested: bool,
    /// Bytes of WAL the slot keeps the source from removing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retained_wal_bytes: Option<u64>,
    /// PostgreSQL's `wal_status` of the slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_status: Option<String>,
    /// The position the last run landed (the slot's `confirmed_flush_lsn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_lsn: Option<String>,
    /// The source's current WAL position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_lsn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What a flow is, apart from its audit fields, state and runs: what the checks of a
/// create or patch produce and the store keeps.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowBody {
    pub name: String,
    pub description: String,
    pub flow_spec: SpecRef,
    pub source_connection_ids: Vec<String>,
    pub target_connection_ids: Vec<String>,
    pub inherited_attributes: FlowInherited,
    pub transformations: Vec<Transformation>,
    pub schedule_params: ScheduleParams,
    #[schema(value_type = Object)]
    pub options: Value,
    /// Inlet: the flow's own alert thresholds (docs/alerts.md); absent: the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inlet_alerts: Option<crate::alerts::FlowThresholds>,
}

/// What a flow inherits from its connections.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowInherited {
    #[schema(value_type = Object)]
    pub properties: Value,
    pub source_connections: Vec<InheritedSource>,
    pub target_connections: Vec<InheritedTarget>,
}

/// A flow's source connection, its spec and its base connection.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InheritedSource {
    pub id: String,
    pub connection_spec: SpecRef,
    pub base_connection: BaseRef,
}

/// A flow's target connection and its spec.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InheritedTarget {
    pub id: String,
    pub connection_spec: SpecRef,
}

/// One transformation: `Copy` (its delta column) or `Mapping` (its set and version).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Transformation {
    #[schema(example = "Copy")]
    pub name: String,
    #[schema(value_type = Object)]
    pub params: Value,
}

/// A schedule as the platform shows it: numbers and booleans as strings.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleParams {
    #[schema(example = "1893456000")]
    pub start_time: String,
    #[schema(example = "minute")]
    pub frequency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "15")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "true")]
    pub backfill: Option<String>,
}

/// The flow's run in progress or last ended, else its next scheduled one.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastRunDetails {
    pub id: String,
    pub state: String,
    #[serde(rename = "startedAtUTC")]
    pub started_at_utc: Option<i64>,
    #[serde(rename = "completedAtUTC")]
    pub completed_at_utc: Option<i64>,
}

/// The failed window that holds a flow's later windows back.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeldBy {
    pub run_id: String,
    pub window_number: i64,
    pub waiting_runs: i64,
    pub message: String,
}

/// A sandbox.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SandboxItem {
    pub id: String,
    #[schema(example = "prod")]
    pub name: String,
    pub title: String,
    #[serde(rename = "type")]
    #[schema(example = "production")]
    pub kind: String,
    pub is_default: bool,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// The answer of a connection test: it really connects.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TestAnswer {
    pub result: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TestError>,
}

/// Why a test failed, classified (`AUTHENTICATION_FAILED`, `HOST_NOT_FOUND`, ...).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TestError {
    pub code: String,
    pub message: String,
}

/// A table or view the user may read (§7, `objectType=root`).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableEntryItem {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub path: String,
    pub can_preview: bool,
    pub can_fetch_schema: bool,
    #[schema(value_type = Object)]
    pub meta: Value,
}

/// A table's columns, and with `preview=true` its first rows (§7).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TableDescription {
    #[schema(example = "flat")]
    pub format: String,
    pub schema: TableColumns,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub data: Option<Vec<Value>>,
}

/// The columns of a described table: each `{name, type, xdm, meta, ...}`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TableColumns {
    #[schema(value_type = Vec<Object>)]
    pub columns: Vec<Value>,
}

/// An access token (`POST /ims/token/v3`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TokenAnswer {
    pub access_token: String,
    #[schema(example = "bearer")]
    pub token_type: String,
    /// Seconds.
    pub expires_in: u64,
}

/// A connection or flow spec: a document of the catalog of specs.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SpecItem {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub rest: serde_json::Map<String, Value>,
}

/// The org's sandboxes, `prod` first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SandboxList {
    pub sandboxes: Vec<SandboxItem>,
    #[serde(rename = "_page")]
    pub page: SandboxCount,
}

/// How many sandboxes there are.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SandboxCount {
    pub count: i64,
}

/// An explore answer: the tables (`objectType=root`) or one table (`objectType=table`).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ExploreAnswer {
    Root(Vec<TableEntryItem>),
    Table(TableDescription),
}
