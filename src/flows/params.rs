//! The parts of a flow request that need no database: `transformations` (`Copy` with its
//! delta column, `Mapping` with its mapping set) and `options`. The API checks requests
//! with them and [`super::model::Flow`] reads stored flows with them, so both agree.

use serde_json::Value;

use super::schedule::integer;
use super::schema_policy::SchemaPolicy;
use crate::sources::read::window::Zone;
use crate::specs::Violation;

/// The column whose value places a row in a window (`Copy` transformation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaColumn {
    pub name: String,
    /// `UTC` or a fixed offset such as `+02:00`: how to read a timestamp without time zone.
    pub timezone: String,
}

impl DeltaColumn {
    /// Reads a `deltaColumn` object found at `path`; `None` when absent or null.
    pub fn parse(value: &Value, path: &str) -> Result<Option<DeltaColumn>, Vec<Violation>> {
        if value.is_null() {
            return Ok(None);
        }
        let mut violations = Vec::new();
        let name = match value["name"].as_str().map(str::trim) {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => {
                violations.push(Violation::new(
                    format!("{path}/name"),
                    "is required: the column to window rows by",
                ));
                String::new()
            }
        };
        let timezone = match &value["timezone"] {
            Value::Null => "UTC".to_string(),
            Value::String(zone) if Zone::parse(zone).is_some() => zone.clone(),
            _ => {
                violations.push(Violation::new(
                    format!("{path}/timezone"),
                    "must be an IANA time zone name (such as UTC or Europe/Paris) or a fixed offset such as +02:00",
                ));
                String::new()
            }
        };
        if violations.is_empty() {
            Ok(Some(DeltaColumn { name, timezone }))
        } else {
            Err(violations)
        }
    }
}

/// A flow's `transformations`, read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transformations {
    pub delta_column: Option<DeltaColumn>,
    /// Inlet: `Copy`'s `mergeByKey: true`: a window's rows replace the dataset's rows of
    /// the same primary key instead of being appended.
    pub merge_by_key: bool,
    /// The `Mapping` transformation's set and version (`None`: not given, take the latest).
    pub mapping: Option<(String, Option<i64>)>,
    /// Inlet: `Copy`'s `schemaChangePolicy`: what runs do when the source's columns change.
    pub schema_policy: SchemaPolicy,
}

/// A flow's `options` (the platform's `optionSpec`), read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowOptions {
    pub partial_ingestion_percent: Option<f64>,
    pub error_diagnostics: bool,
}

/// Reads `transformations`: at most one `Copy` and one `Mapping`, names in any case.
pub fn parse_transformations(value: &Value) -> Result<Transformations, Vec<Violation>> {
    let mut out = Transformations::default();
    let entries = match value {
        Value::Null => return Ok(out),
        Value::Array(entries) => entries,
        _ => return Err(vec![Violation::new("/transformations", "must be a list")]),
    };
    let mut violations = Vec::new();
    let mut seen = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let path = format!("/transformations/{index}");
        let name = entry["name"].as_str().unwrap_or_default().to_ascii_lowercase();
        if seen.contains(&name) {
            violations.push(Violation::new(format!("{path}/name"), "appears twice"));
            continue;
        }
        seen.push(name.clone());
        let params = &entry["params"];
        match name.as_str() {
            "copy" => {
                match DeltaColumn::parse(&params["deltaColumn"], &format!("{path}/params/deltaColumn")) {
                    Ok(delta) => out.delta_column = delta,
                    Err(found) => violations.extend(found),
                }
                match merge_by_key(&params["mergeByKey"], out.delta_column.is_some(), &path) {
                    Ok(merge) => out.merge_by_key = merge,
                    Err(found) => violations.push(found),
                }
                match schema_policy(&params["schemaChangePolicy"], &path) {
                    Ok(policy) => out.schema_policy = policy,
                    Err(found) => violations.push(found),
                }
            }
            "mapping" => match mapping_params(params, &path) {
                Ok(mapping) => out.mapping = Some(mapping),
                Err(found) => violations.push(found),
            },
            _ => violations.push(Violation::new(format!("{path}/name"), "must be Copy or Mapping")),
        }
    }
    if violations.is_empty() {
        Ok(out)
    } else {
        Err(violations)
    }
}

/// Reads `mergeByKey`: a boolean, `true` only beside a delta column.
fn merge_by_key(value: &Value, has_delta_column: bool, path: &str) -> Result<bool, Violation> {
    let path = format!("{path}/params/mergeByKey");
    match value {
        Value::Null | Value::Bool(false) => Ok(false),
        Value::Bool(true) if has_delta_column => Ok(true),
        Value::Bool(true) => Err(Violation::new(
            path,
            "needs a deltaColumn: a flow without one replaces the whole dataset at every run",
        )),
        _ => Err(Violation::new(path, "must be true or false")),
    }
}

/// Reads `schemaChangePolicy`: absent means `propagate`.
fn schema_policy(value: &Value, path: &str) -> Result<SchemaPolicy, Violation> {
    match value {
        Value::Null => Ok(SchemaPolicy::default()),
        Value::String(name) if let Some(policy) = SchemaPolicy::parse(name) => Ok(policy),
        _ => Err(Violation::new(
            format!("{path}/params/schemaChangePolicy"),
            format!("must be {}", SchemaPolicy::NAMES),
        )),
    }
}

fn mapping_params(params: &Value, path: &str) -> Result<(String, Option<i64>), Violation> {
    let id = match params["mappingId"].as_str().map(str::trim) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => {
            return Err(Violation::new(
                format!("{path}/params/mappingId"),
                "is required: a mapping set id",
            ));
        }
    };
    match &params["mappingVersion"] {
        Value::Null => Ok((id, None)),
        version => match integer(version).filter(|v| *v >= 0) {
            Some(version) => Ok((id, Some(version))),
            None => Err(Violation::new(
                format!("{path}/params/mappingVersion"),
                "must be a whole number of at least 0",
            )),
        },
    }
}

/// Reads `options`: `partialIngestionPercent` (above 0, at most 100) and
/// `errorDiagnosticsEnabled`, numbers and booleans possibly given as strings.
pub fn parse_options(value: &Value) -> Result<FlowOptions, Vec<Violation>> {
    let mut violations = Vec::new();
    let percent = match &value["partialIngestionPercent"] {
        Value::Null => None,
        Value::Number(n) => n.as_f64(),
        Value::String(s) => Some(s.trim().parse::<f64>().unwrap_or(f64::NAN)),
        _ => Some(f64::NAN),
    };
    if percent.is_some_and(|p| !(p > 0.0 && p <= 100.0)) {
        violations.push(Violation::new(
            "/options/partialIngestionPercent",
            "must be a number above 0 and at most 100",
        ));
    }
    let diagnostics = match &value["errorDiagnosticsEnabled"] {
        Value::Null => Some(false),
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    if diagnostics.is_none() {
        violations.push(Violation::new(
            "/options/errorDiagnosticsEnabled",
            "must be true or false",
        ));
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(FlowOptions {
        partial_ingestion_percent: percent,
        error_diagnostics: diagnostics.unwrap_or(false),
    })
}
