//! The rules a flow must satisfy when it is created or patched: its spec, its two
//! connections, its transformations and schedule, and the columns it names, which are
//! checked against the source table for real.

use serde_json::{Value, json};

use super::error::ApiError;
use super::explore::open_source;
use super::fields::Fields;
use super::resource::{CONNECTION, MAPPING_SET, SOURCE_CONNECTION, TARGET_CONNECTION, referenced};
use super::schema::items::{FlowBody, FlowInherited, InheritedSource, InheritedTarget, SpecRef, Transformation};
use super::source_connections::unreadable;
use crate::alerts::FlowThresholds;
use crate::alerts::thresholds::FIELD as ALERTS_FIELD;
use crate::flows::model::SourceConnection;
use crate::flows::params::{Transformations, parse_options, parse_transformations};
use crate::flows::schedule::{Schedule, integer};
use crate::identity::Caller;
use crate::mapping::{self, MappingSet};
use crate::sources::source::Source;
use crate::specs::Violation;
use crate::state::AppState;
use crate::store::ResourceRow;

/// Seconds a start time may lie in the past: a client computes "now" a moment before
/// the server reads it.
pub const START_GRACE: i64 = 60;

/// The user-editable part of a flow's item, from a create body or a patched item, after
/// every check. `kept_start` is the stored start time of a patched flow: keeping it is
/// no error even once it has passed.
pub async fn checked(
    state: &AppState,
    caller: &Caller,
    body: &Value,
    kept_start: Option<i64>,
) -> Result<FlowBody, ApiError> {
    let mut fields = Fields::new(body);
    let name = fields.name("/name");
    let description = fields.description("/description");
    fields.objects(&["/flowSpec", "/options"]);
    let spec_id = fields.required("/flowSpec/id");
    let spec_version = fields.optional("/flowSpec/version");
    let source_id = fields.single_id("/sourceConnectionIds", "source connection");
    let target_id = fields.single_id("/targetConnectionIds", "target connection");
    let transformations = parse_transformations(&body["transformations"]).map_err(|v| fields.extend(v));
    if let Err(violations) = parse_options(&body["options"]) {
        fields.extend(violations);
    }
    let alerts = FlowThresholds::parse(&body[ALERTS_FIELD]).map_err(|v| fields.extend(v));
    if !body["scheduleParams"].is_object() {
        fields.push(
            "/scheduleParams",
            "is required: {startTime, frequency, interval, backfill}",
        );
    }
    fields.finish("The flow is not valid")?;
    let transformations = transformations.unwrap_or_default();
    let spec = state
        .specs
        .flow_specs()
        .iter()
        .find(|s| s["id"] == spec_id.as_str())
        .ok_or_else(|| {
            ApiError::bad_request(
                "1416",
                format!("No flow spec has id `{spec_id}`; GET /flowSpecs lists them"),
            )
        })?;
    let schedule = schedule_of(state, &body["scheduleParams"], &transformations, kept_start)?;
    let source = referenced(state, caller, SOURCE_CONNECTION, &source_id, "/sourceConnectionIds/0").await?;
    let target = referenced(state, caller, TARGET_CONNECTION, &target_id, "/targetConnectionIds/0").await?;
    allowed_by(spec, "sourceConnectionSpecIds", &source)?;
    allowed_by(spec, "targetConnectionSpecIds", &target)?;
    check_merging(state, caller, &source, &transformations, &body["options"]).await?;
    let delta = transformations.delta_column.as_ref().map(|d| d.name.clone());
    let (transformations, mapped) = pinned(state, caller, body, &transformations).await?;
    check_columns(state, caller, &source, delta.as_deref(), &mapped).await?;
    let inherited = inherited(&source, &target)?;
    Ok(FlowBody {
        name,
        description,
        flow_spec: SpecRef {
            id: spec_id,
            version: if spec_version.is_empty() {
                "1.0".into()
            } else {
                spec_version
            },
        },
        source_connection_ids: vec![source.id],
        target_connection_ids: vec![target.id],
        inherited_attributes: inherited,
        transformations,
        schedule_params: serde_json::from_value(schedule.to_json()).map_err(ApiError::internal)?,
        options: if body["options"].is_object() {
            body["options"].clone()
        } else {
            json!({})
        },
        inlet_alerts: alerts.ok().filter(|a| !a.is_empty()),
    })
}

fn schedule_of(
    state: &AppState,
    params: &Value,
    transformations: &Transformations,
    kept_start: Option<i64>,
) -> Result<Schedule, ApiError> {
    // A kept start time is judged as if it were now, so it is never "in the past".
    let now = match kept_start {
        Some(start) if integer(&params["startTime"]) == Some(start) => start,
        _ => state.clock.now(),
    };
    Ok(Schedule::parse(
        params,
        transformations.delta_column.is_some(),
        now,
        START_GRACE,
    )?)
}

/// `1417-400` unless the flow spec lists the connection's spec under `list`.
fn allowed_by(spec: &Value, list: &str, connection: &ResourceRow) -> Result<(), ApiError> {
    let connection_spec = &connection.doc["connectionSpec"]["id"];
    let allowed = spec[list].as_array().is_some_and(|ids| ids.contains(connection_spec));
    if allowed {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "1417",
        format!(
            "connection {} uses connection spec {connection_spec}, which flow spec {} does not list in {list}",
            connection.id, spec["name"]
        ),
    ))
}

fn inherited(source: &ResourceRow, target: &ResourceRow) -> Result<FlowInherited, ApiError> {
    let spec_of = |row: &ResourceRow| serde_json::from_value::<SpecRef>(row.doc["connectionSpec"].clone());
    let base = serde_json::from_value(source.doc["inheritedAttributes"]["baseConnection"].clone());
    Ok(FlowInherited {
        properties: json!({"isSourceFlow": true}),
        source_connections: vec![InheritedSource {
            id: source.id.clone(),
            connection_spec: spec_of(source).map_err(ApiError::internal)?,
            base_connection: base.map_err(ApiError::internal)?,
        }],
        target_connections: vec![InheritedTarget {
            id: target.id.clone(),
            connection_spec: spec_of(target).map_err(ApiError::internal)?,
        }],
    })
}

/// The transformations to store (the mapping set's version pinned, the delta column's
/// timezone filled in) and the source columns the mapping reads.
async fn pinned(
    state: &AppState,
    caller: &Caller,
    body: &Value,
    transformations: &Transformations,
) -> Result<(Vec<Transformation>, Vec<String>), ApiError> {
    let given = match &body["transformations"] {
        Value::Array(list) => list.clone(),
        _ => Vec::new(),
    };
    let mut stored = Vec::with_capacity(given.len());
    let mut mapped = Vec::new();
    for entry in given {
        let name = entry["name"].as_str().unwrap_or_default().to_string();
        let mut params = if entry["params"].is_object() {
            entry["params"].clone()
        } else {
            json!({})
        };
        if name.eq_ignore_ascii_case("copy")
            && let Some(delta) = &transformations.delta_column
        {
            params["deltaColumn"]["timezone"] = json!(delta.timezone);
        }
        if name.eq_ignore_ascii_case("mapping")
            && let Some((id, version)) = &transformations.mapping
        {
            let set = mapping_set(state, caller, id, *version).await?;
            params["mappingVersion"] = json!(set.version);
            mapped = set.attribute_sources().map(str::to_string).collect();
        }
        stored.push(Transformation { name, params });
    }
    Ok((stored, mapped))
}

/// Version `version` (the current one when `None`) of the caller's mapping set `id`.
pub async fn mapping_set(
    state: &AppState,
    caller: &Caller,
    id: &str,
    version: Option<i64>,
) -> Result<MappingSet, ApiError> {
    let path = "transformations Mapping params.mappingId";
    let current = referenced(state, caller, MAPPING_SET, id, path).await?;
    let doc = match version {
        None => current.doc,
        Some(version) => {
            state
                .store
                .get_resource(mapping::VERSION_KIND, &caller.tenant, &mapping::version_id(id, version))
                .await?
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "1102",
                        format!(
                            "mapping set {id} has no version {version} (its latest is {})",
                            current.doc["version"]
                        ),
                    )
                })?
                .doc
        }
    };
    MappingSet::from_doc(&doc).map_err(|v| ApiError::internal(format!("stored mapping set {id}: {v:?}")))
}

/// `1331-400` unless the source table has column `delta` and reads every `mapped`
/// column; the table is described through the base connection, for real.
pub async fn check_columns(
    state: &AppState,
    caller: &Caller,
    source: &ResourceRow,
    delta: Option<&str>,
    mapped: &[String],
) -> Result<(), ApiError> {
    if delta.is_none() && mapped.is_empty() {
        return Ok(());
    }
    let model = SourceConnection::from_row(source).map_err(ApiError::internal)?;
    let reader = reader_of(state, caller, &model).await?;
    let described = reader
        .describe(&model.table)
        .await
        .map_err(|e| unreadable(e, &model.table))?;
    let has = |name: &str| described.columns.iter().any(|c| c.name == name);
    let read = |name: &str| {
        model
            .columns
            .as_ref()
            .map_or(has(name), |cols| cols.iter().any(|c| c == name))
    };
    let mut missing = Vec::new();
    if let Some(delta) = delta.filter(|d| !has(d)) {
        missing.push(format!("delta column `{delta}`"));
    }
    missing.extend(
        mapped
            .iter()
            .filter(|m| !read(m))
            .map(|m| format!("mapped column `{m}`")),
    );
    if missing.is_empty() {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "1331",
        format!(
            "source connection {} does not read {} from table {}",
            source.id,
            missing.join(", "),
            model.table
        ),
    ))
}

/// The rules of a flow that merges rows by key: one whose source connection captures
/// changes (no delta column, mapping or partial ingestion: the dataset mirrors the table,
/// every change lands or none), or a delta column flow with `mergeByKey` (the table needs a
/// primary key, and the rows keep the source's columns).
async fn check_merging(
    state: &AppState,
    caller: &Caller,
    source: &ResourceRow,
    transformations: &Transformations,
    options: &Value,
) -> Result<(), ApiError> {
    let model = SourceConnection::from_row(source).map_err(ApiError::internal)?;
    let mut refused = Vec::new();
    let mut refuse = |path: &str, message: &str| refused.push(Violation::new(path, message));
    if model.cdc {
        let why = "a change data capture flow (its source connection has cdcEnabled) merges every change of the table";
        if transformations.delta_column.is_some() {
            refuse("/transformations", &format!("{why}; it takes no Copy deltaColumn"));
        }
        if transformations.mapping.is_some() {
            refuse(
                "/transformations",
                &format!("{why}; it takes no Mapping: the dataset has the table's columns"),
            );
        }
        if !options["partialIngestionPercent"].is_null() {
            refuse(
                "/options/partialIngestionPercent",
                &format!("{why}; every change lands or none does"),
            );
        }
    }
    if transformations.merge_by_key && transformations.mapping.is_some() {
        refuse(
            "/transformations",
            "a flow with mergeByKey merges rows by the source's primary key columns; it takes no Mapping",
        );
    }
    if !refused.is_empty() {
        return Err(ApiError::invalid("The flow is not valid", refused));
    }
    if !transformations.merge_by_key {
        return Ok(());
    }
    let reader = reader_of(state, caller, &model).await?;
    let key = reader
        .key(&model.table)
        .await
        .map_err(|e| unreadable(e, &model.table))?;
    if key.is_empty() {
        return Err(ApiError::invalid(
            "The flow is not valid",
            vec![Violation::new(
                "/transformations",
                format!(
                    "mergeByKey needs a primary key, and table {} has none: add one (ALTER TABLE ... ADD PRIMARY KEY), \
                     or leave mergeByKey out to append each window",
                    model.table
                ),
            )],
        ));
    }
    Ok(())
}

/// The source the source connection `model` reads, through its base connection.
async fn reader_of(state: &AppState, caller: &Caller, model: &SourceConnection) -> Result<Box<dyn Source>, ApiError> {
    let base = referenced(state, caller, CONNECTION, &model.base_connection_id, "baseConnectionId").await?;
    Ok(open_source(state, &base)?.0)
}
