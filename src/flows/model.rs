//! The dataflow resources as the engine reads them: source connections, target
//! connections and flows, each parsed from the document the API stored.

use serde_json::Value;

pub use super::params::DeltaColumn;
use super::params::{parse_options, parse_transformations};
use super::schedule::Schedule;
use super::schema_policy::SchemaPolicy;
use crate::alerts::FlowThresholds;
use crate::alerts::thresholds::FIELD as ALERTS_FIELD;
use crate::identity::Tenant;
use crate::sources::TableRef;
use crate::specs::Violation;
use crate::store::ResourceRow;

/// The store kind of source connections.
pub const SOURCE_CONNECTION_KIND: &str = "sourceConnection";
/// The store kind of target connections.
pub const TARGET_CONNECTION_KIND: &str = "targetConnection";
/// The store kind of flows.
pub const FLOW_KIND: &str = "flow";
/// The store kind of the lake's datasets (owned by the Catalog API).
pub const DATASET_KIND: &str = "dataset";

/// A stored document that does not read as its model (written by an older or broken
/// version of Inlet).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("stored {kind} {id} is not valid: {message}")]
pub struct ModelError {
    pub kind: &'static str,
    pub id: String,
    pub message: String,
}

/// Where a source connection reads: a table of its base connection's database.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceConnection {
    pub id: String,
    pub tenant: Tenant,
    pub base_connection_id: String,
    pub table: TableRef,
    /// The columns to read, in this order; every column when `None`.
    pub columns: Option<Vec<String>>,
    /// `params.cdcEnabled`: the dataset mirrors the table through its change log.
    pub cdc: bool,
}

/// Where a target connection writes: a dataset (a Delta Lake table) of the same tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetConnection {
    pub id: String,
    pub tenant: Tenant,
    pub dataset_id: String,
}

/// A flow's pinned mapping set version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingRef {
    pub id: String,
    pub version: i64,
}

/// A dataflow: one source connection into one target connection on a schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub id: String,
    pub tenant: Tenant,
    pub name: String,
    pub enabled: bool,
    pub source_connection_id: String,
    pub target_connection_id: String,
    pub delta_column: Option<DeltaColumn>,
    /// Rows of a window replace the dataset's rows with the same primary key.
    pub merge_by_key: bool,
    pub mapping: Option<MappingRef>,
    pub schedule: Schedule,
    /// `options.partialIngestionPercent` was given: rows that fail to convert are
    /// counted and skipped instead of failing the run, up to that share of the input.
    pub partial_ingestion: bool,
    /// The share of failed rows (percent of input rows) above which the run fails.
    pub partial_ingestion_percent: Option<f64>,
    /// What runs do when the source's columns change (`schemaChangePolicy`).
    pub schema_policy: SchemaPolicy,
    /// Inlet's `inletAlerts`: the flow's own alert thresholds (the server's where unset).
    pub alerts: FlowThresholds,
}

fn text(doc: &Value, pointer: &str) -> Option<String> {
    doc.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn model_error(kind: &'static str, doc: &Value, message: impl Into<String>) -> ModelError {
    ModelError {
        kind,
        id: doc["id"].as_str().unwrap_or_default().to_string(),
        message: message.into(),
    }
}

fn listed(violations: Vec<Violation>) -> String {
    violations
        .iter()
        .map(Violation::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl SourceConnection {
    /// Reads a stored source connection document of `tenant`.
    pub fn from_doc(tenant: &Tenant, doc: &Value) -> Result<SourceConnection, ModelError> {
        let fail = |message: &str| model_error(SOURCE_CONNECTION_KIND, doc, message);
        let table_name = text(doc, "/params/tableName").ok_or_else(|| fail("params.tableName is missing"))?;
        // Stored names are canonical `schema.table`, so the default schema never applies.
        let table = TableRef::parse(&table_name, "public").map_err(|e| fail(&e.to_string()))?;
        let columns = match doc.pointer("/params/columns") {
            None | Some(Value::Null) => None,
            Some(list) => Some(column_names(list).map_err(|v| fail(&listed(v)))?),
        };
        Ok(SourceConnection {
            id: text(doc, "/id").ok_or_else(|| fail("id is missing"))?,
            tenant: tenant.clone(),
            base_connection_id: text(doc, "/baseConnectionId").ok_or_else(|| fail("baseConnectionId is missing"))?,
            table,
            columns,
            cdc: doc.pointer("/params/cdcEnabled") == Some(&Value::Bool(true)),
        })
    }

    /// Reads a stored source connection row.
    pub fn from_row(row: &ResourceRow) -> Result<SourceConnection, ModelError> {
        SourceConnection::from_doc(&row.tenant, &row.doc)
    }
}

/// The `type`s given in a request's `params.columns` list: the table's own types are what
/// is stored (explore names them), but one given must at least be a type name.
pub fn column_types_given(list: &Value) -> Vec<Violation> {
    let entries = list.as_array().map(Vec::as_slice).unwrap_or_default();
    entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            let kind = entry.get("type")?;
            kind.as_str().is_none_or(|k| k.trim().is_empty()).then(|| {
                Violation::new(
                    format!("/params/columns/{index}/type"),
                    format!("must be a type name such as \"long\" or \"string\" (as explore shows it), not {kind}"),
                )
            })
        })
        .collect()
}

/// The names in a `params.columns` list: each entry a name or `{"name": ..., "type": ...}`.
pub fn column_names(list: &Value) -> Result<Vec<String>, Vec<Violation>> {
    let Some(entries) = list.as_array() else {
        return Err(vec![Violation::new("/params/columns", "must be a list of columns")]);
    };
    let mut names = Vec::new();
    let mut violations = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match entry.as_str().or_else(|| entry["name"].as_str()) {
            Some(name) if names.iter().any(|n| n == name) => violations.push(Violation::new(
                format!("/params/columns/{index}"),
                format!("`{name}` is listed twice"),
            )),
            Some(name) if !name.is_empty() => names.push(name.to_string()),
            _ => violations.push(Violation::new(
                format!("/params/columns/{index}"),
                "must be a column name or an object with a non-empty `name`",
            )),
        }
    }
    if names.is_empty() && violations.is_empty() {
        violations.push(Violation::new(
            "/params/columns",
            "must name at least one column; leave it out to read every column",
        ));
    }
    if violations.is_empty() {
        Ok(names)
    } else {
        Err(violations)
    }
}

impl TargetConnection {
    /// Reads a stored target connection document of `tenant`.
    pub fn from_doc(tenant: &Tenant, doc: &Value) -> Result<TargetConnection, ModelError> {
        let fail = |message: &str| model_error(TARGET_CONNECTION_KIND, doc, message);
        Ok(TargetConnection {
            id: text(doc, "/id").ok_or_else(|| fail("id is missing"))?,
            tenant: tenant.clone(),
            dataset_id: text(doc, "/params/dataSetId").ok_or_else(|| fail("params.dataSetId is missing"))?,
        })
    }

    /// Reads a stored target connection row.
    pub fn from_row(row: &ResourceRow) -> Result<TargetConnection, ModelError> {
        TargetConnection::from_doc(&row.tenant, &row.doc)
    }
}

impl Flow {
    /// Reads a stored flow document of `tenant`.
    pub fn from_doc(tenant: &Tenant, doc: &Value) -> Result<Flow, ModelError> {
        let fail = |message: String| model_error(FLOW_KIND, doc, message);
        let transformations = parse_transformations(&doc["transformations"]).map_err(|v| fail(listed(v)))?;
        let options = parse_options(&doc["options"]).map_err(|v| fail(listed(v)))?;
        let alerts = FlowThresholds::parse(&doc[ALERTS_FIELD]).map_err(|v| fail(listed(v)))?;
        // Stored schedules were checked against the clock when they were written; a
        // start time in the past is no error now.
        let schedule = Schedule::parse(
            &doc["scheduleParams"],
            transformations.delta_column.is_some(),
            i64::MIN,
            0,
        )
        .map_err(|e| fail(e.message))?;
        let mapping = match transformations.mapping {
            Some((id, Some(version))) => Some(MappingRef { id, version }),
            Some((id, None)) => return Err(fail(format!("mapping set {id} has no pinned version"))),
            None => None,
        };
        let single =
            |key: &str| text(doc, &format!("/{key}/0")).ok_or_else(|| fail(format!("{key} does not hold one id")));
        Ok(Flow {
            id: text(doc, "/id").ok_or_else(|| fail("id is missing".into()))?,
            tenant: tenant.clone(),
            name: text(doc, "/name").unwrap_or_default(),
            enabled: doc["state"] == "enabled",
            source_connection_id: single("sourceConnectionIds")?,
            target_connection_id: single("targetConnectionIds")?,
            delta_column: transformations.delta_column,
            merge_by_key: transformations.merge_by_key,
            mapping,
            schedule,
            partial_ingestion: options.partial_ingestion_percent.is_some(),
            partial_ingestion_percent: options.partial_ingestion_percent,
            schema_policy: transformations.schema_policy,
            alerts,
        })
    }

    /// Reads a stored flow row.
    pub fn from_row(row: &ResourceRow) -> Result<Flow, ModelError> {
        Flow::from_doc(&row.tenant, &row.doc)
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
