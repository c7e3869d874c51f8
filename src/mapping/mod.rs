//! Mapping sets (Data Prep): which source columns, and which constants, land under which
//! names in the dataset. Destinations are dotted paths: `a.b` is field `b` of struct `a`.

pub mod apply;

use serde_json::{Value, json};

use crate::identity::Tenant;
use crate::specs::Violation;
use crate::store::{Store, StoreError};

/// The store kind of mapping sets (the current version of each).
pub const KIND: &str = "mappingSet";
/// The store kind of every version of every mapping set, the current one included.
pub const VERSION_KIND: &str = "mappingSetVersion";

/// The mapping set `id` at `version`, as stored in `tenant`.
pub async fn load(store: &Store, tenant: &Tenant, id: &str, version: i64) -> Result<Option<MappingSet>, StoreError> {
    let Some(row) = store
        .get_resource(VERSION_KIND, tenant, &version_id(id, version))
        .await?
    else {
        return Ok(None);
    };
    Ok(MappingSet::from_doc(&row.doc).ok())
}

/// One entry of a mapping set.
#[derive(Clone, Debug, PartialEq)]
pub enum Mapping {
    /// Copies source column `source` to `destination`.
    Attribute { source: String, destination: String },
    /// Writes the constant `value` (a string, number or boolean) to `destination`.
    Static { value: Value, destination: String },
}

/// A mapping set at one version.
#[derive(Clone, Debug, PartialEq)]
pub struct MappingSet {
    pub id: String,
    /// 0 when created, one more on every update.
    pub version: i64,
    pub mappings: Vec<Mapping>,
}

impl Mapping {
    /// The dotted destination path.
    pub fn destination(&self) -> &str {
        match self {
            Mapping::Attribute { destination, .. } | Mapping::Static { destination, .. } => destination,
        }
    }

    /// The entry as the API shows it: the current form and the legacy fields together.
    pub fn to_json(&self) -> Value {
        match self {
            Mapping::Attribute { source, destination } => json!({
                "sourceType": "ATTRIBUTE", "source": source, "destination": destination,
                "sourceAttribute": source, "destinationXdmPath": destination,
            }),
            Mapping::Static { value, destination } => json!({
                "sourceType": "STATIC", "source": value, "destination": destination,
                "destinationXdmPath": destination,
            }),
        }
    }
}

impl MappingSet {
    /// Reads a stored mapping set document (either kind).
    pub fn from_doc(doc: &Value) -> Result<MappingSet, Vec<Violation>> {
        let id = doc["id"].as_str().unwrap_or_default().to_string();
        let version = doc["version"]
            .as_i64()
            .ok_or_else(|| vec![Violation::new("/version", "is missing")])?;
        Ok(MappingSet {
            id,
            version,
            mappings: parse_mappings(&doc["mappings"])?,
        })
    }

    /// The source columns the set reads.
    pub fn attribute_sources(&self) -> impl Iterator<Item = &str> {
        self.mappings.iter().filter_map(|m| match m {
            Mapping::Attribute { source, .. } => Some(source.as_str()),
            Mapping::Static { .. } => None,
        })
    }
}

/// The store id of version `version` of mapping set `id`.
pub fn version_id(id: &str, version: i64) -> String {
    format!("{id}.v{version}")
}

/// Reads and checks a `mappings` list. Entries take the current form
/// (`sourceType`, `source`, `destination`) or the legacy one (`sourceAttribute`,
/// `destinationXdmPath`). Every violation names its entry by index.
pub fn parse_mappings(value: &Value) -> Result<Vec<Mapping>, Vec<Violation>> {
    let entries = match value.as_array() {
        Some(entries) if !entries.is_empty() => entries,
        Some(_) => return Err(vec![Violation::new("/mappings", "must hold at least one mapping")]),
        None => return Err(vec![Violation::new("/mappings", "is required: a list of mappings")]),
    };
    let mut violations = Vec::new();
    let mut mappings = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match parse_entry(entry, &format!("/mappings/{index}")) {
            Ok(mapping) => mappings.push((index, mapping)),
            Err(found) => violations.extend(found),
        }
    }
    violations.extend(destination_conflicts(&mappings));
    if violations.is_empty() {
        Ok(mappings.into_iter().map(|(_, m)| m).collect())
    } else {
        Err(violations)
    }
}

fn parse_entry(entry: &Value, path: &str) -> Result<Mapping, Vec<Violation>> {
    if !entry.is_object() {
        return Err(vec![Violation::new(path, "must be an object")]);
    }
    let mut violations = Vec::new();
    let destination = entry["destination"]
        .as_str()
        .or_else(|| entry["destinationXdmPath"].as_str())
        .unwrap_or_default();
    if destination.is_empty() {
        violations.push(Violation::new(format!("{path}/destination"), "is required"));
    } else if destination.split('.').any(|part| part.trim().is_empty()) {
        violations.push(Violation::new(
            format!("{path}/destination"),
            format!("`{destination}` has an empty part; write names joined by single dots"),
        ));
    }
    let kind = entry["sourceType"].as_str().map(str::to_ascii_uppercase);
    let source = entry.get("source").or_else(|| entry.get("sourceAttribute"));
    let mapping = match kind.as_deref() {
        None | Some("ATTRIBUTE") | Some("TEXT/X.SCHEMA-PATH") => match source.and_then(Value::as_str) {
            Some(source) if !source.is_empty() => Some(Mapping::Attribute {
                source: source.to_string(),
                destination: destination.to_string(),
            }),
            _ => {
                violations.push(Violation::new(
                    format!("{path}/source"),
                    "is required: a source column name",
                ));
                None
            }
        },
        Some("STATIC") => match source {
            Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => Some(Mapping::Static {
                value: value.clone(),
                destination: destination.to_string(),
            }),
            _ => {
                violations.push(Violation::new(
                    format!("{path}/source"),
                    "a STATIC mapping needs a string, number or boolean constant",
                ));
                None
            }
        },
        Some(other) => {
            violations.push(Violation::new(
                format!("{path}/sourceType"),
                format!("`{other}` is not supported; use ATTRIBUTE or STATIC"),
            ));
            None
        }
    };
    match mapping {
        Some(mapping) if violations.is_empty() => Ok(mapping),
        _ => Err(violations),
    }
}

/// Two entries writing one destination, or one writing a value where another writes a
/// struct (`a` and `a.b`).
fn destination_conflicts(mappings: &[(usize, Mapping)]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (i, (index, mapping)) in mappings.iter().enumerate() {
        let mine = mapping.destination();
        for (earlier, other) in &mappings[..i] {
            let theirs = other.destination();
            let message = if mine == theirs {
                format!("`{mine}` is also the destination of mapping {earlier}")
            } else if is_parent(mine, theirs) || is_parent(theirs, mine) {
                format!("`{mine}` and mapping {earlier}'s `{theirs}` make one field both a value and a struct")
            } else {
                continue;
            };
            violations.push(Violation::new(format!("/mappings/{index}/destination"), message));
        }
    }
    violations
}

fn is_parent(parent: &str, child: &str) -> bool {
    child.strip_prefix(parent).is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(value: Value) -> Vec<String> {
        parse_mappings(&value)
            .unwrap_err()
            .into_iter()
            .map(|v| v.path)
            .collect()
    }

    #[test]
    fn both_entry_forms_read_the_same() {
        let current = json!([{"sourceType": "ATTRIBUTE", "source": "id", "destination": "order.id"},
            {"sourceType": "static", "source": 7, "destination": "order.version"}]);
        let legacy = json!([{"sourceAttribute": "id", "destinationXdmPath": "order.id"},
            {"sourceType": "STATIC", "source": 7, "destinationXdmPath": "order.version"}]);
        let parsed = parse_mappings(&current).unwrap();
        assert_eq!(parsed, parse_mappings(&legacy).unwrap());
        assert_eq!(parsed[0].to_json()["sourceAttribute"], "id");
        assert_eq!(parsed[0].to_json()["destinationXdmPath"], "order.id");
        assert_eq!(parsed[1].to_json()["source"], 7);
    }

    #[test]
    fn every_broken_rule_names_its_entry() {
        assert_eq!(paths(json!([])), ["/mappings"]);
        assert_eq!(paths(json!(null)), ["/mappings"]);
        assert_eq!(
            paths(json!([{"source": "a", "destination": "x"}, {"source": "b", "destination": "x"}])),
            ["/mappings/1/destination"]
        );
        assert_eq!(
            paths(json!([{"source": "a", "destination": "x.y"}, {"source": "b", "destination": "x"}])),
            ["/mappings/1/destination"]
        );
        assert!(
            parse_mappings(&json!([{"source": "a", "destination": "xy"}, {"source": "b", "destination": "x"}])).is_ok()
        );
        assert_eq!(
            paths(json!([{"sourceType": "EXPRESSION", "source": "a", "destination": "x"}])),
            ["/mappings/0/sourceType"]
        );
        assert_eq!(paths(json!([{"destination": "x"}])), ["/mappings/0/source"]);
        assert_eq!(
            paths(json!([{"source": "a", "destination": "x..y"}])),
            ["/mappings/0/destination"]
        );
        assert_eq!(
            paths(json!([{"sourceType": "STATIC", "source": {"a": 1}, "destination": "x"}])),
            ["/mappings/0/source"]
        );
    }
}
