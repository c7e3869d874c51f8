//! `/data/foundation/conversion/mappingSets` (§11): mapping sets, in Data Prep's shapes.
//! Every version stays readable (`?version=n`): each is stored as its own row, written in
//! one transaction with the set's conditional update (on its etag), which is what lets
//! exactly one of two concurrent updates win version n+1.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::{ApiError, json_response};
use super::resource::{FLOW, MAPPING_SET, find, first_user, in_use};
use crate::identity::Caller;
use crate::mapping::{self, Mapping, parse_mappings};
use crate::specs::Violation;
use crate::state::AppState;
use crate::store::{OffsetPage, ResourceRow, SortBy, StoreError, Update, new_etag, now_millis};

const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;
/// Attempts of an update that lost its version number to a concurrent one.
const UPDATE_ATTEMPTS: usize = 5;

/// The mapping set routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_mapping_set, list_mapping_sets))
        .routes(routes!(get_mapping_set, put_mapping_set, delete_mapping_set))
}

/// The Data Prep query parameters this API reads.
#[derive(Deserialize, Default)]
struct SetQuery {
    version: Option<String>,
    limit: Option<String>,
    start: Option<String>,
}

/// The mapping set document of version `version` made from a request `body`.
fn document(
    body: &Value,
    id: &str,
    version: i64,
    created: (&str, i64),
    caller: &Caller,
    now: i64,
) -> Result<Value, ApiError> {
    let mut violations = match parse_mappings(&body["mappings"]) {
        Ok(_) => Vec::new(),
        Err(found) => found,
    };
    violations.extend(text_field(body, "/name", crate::bounds::MAX_NAME));
    violations.extend(text_field(body, "/description", crate::bounds::MAX_DESCRIPTION));
    for path in ["/outputSchema", "/inputSchema"] {
        if body.pointer(path).is_some_and(|v| !v.is_null() && !v.is_object()) {
            violations.push(Violation::new(path, "must be an object"));
        }
    }
    if !violations.is_empty() {
        return Err(ApiError::invalid("The mapping set is not valid", violations));
    }
    let mappings = parse_mappings(&body["mappings"]).expect("checked above");
    let mut doc = json!({
        "id": id,
        "version": version,
        "createdDate": created.1,
        "modifiedDate": now,
        "createdBy": created.0,
        "modifiedBy": caller.subject,
        "mappings": mappings.iter().map(Mapping::to_json).collect::<Vec<_>>(),
    });
    for kept in ["name", "description", "outputSchema", "inputSchema"] {
        if !body[kept].is_null() {
            doc[kept] = body[kept].clone();
        }
    }
    Ok(doc)
}

/// A violation unless `path` is absent, null, or a string of at most `max` characters.
fn text_field(body: &Value, path: &str, max: usize) -> Option<Violation> {
    match body.pointer(path) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => crate::bounds::too_long(path, text, max),
        Some(_) => Some(Violation::new(path, "must be a string")),
    }
}

/// `{id, version, createdDate, modifiedDate, createdBy, modifiedBy}` of a document.
fn summary(doc: &Value) -> Value {
    let mut out = json!({});
    for key in [
        "id",
        "version",
        "createdDate",
        "modifiedDate",
        "createdBy",
        "modifiedBy",
    ] {
        out[key] = doc[key].clone();
    }
    out
}

fn row(kind: &str, id: String, caller: &Caller, doc: &Value, now: i64) -> ResourceRow {
    ResourceRow {
        kind: kind.into(),
        id,
        tenant: caller.tenant.clone(),
        etag: new_etag(),
        created_at: now,
        updated_at: now,
        doc: doc.clone(),
        secret: None,
    }
}

#[utoipa::path(post, path = "/mappingSets", tag = "Mapping sets", request_body = crate::api::schema::requests::MappingSetBody,
    responses((status = 200, description = "The new set, version 0", body = crate::api::schema::catalog::MappingSetSummary)))]
async fn create_mapping_set(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let now = now_millis();
    let doc = document(&body, &id, 0, (&caller.subject, now), &caller, now)?;
    let version = row(mapping::VERSION_KIND, mapping::version_id(&id, 0), &caller, &doc, now);
    state.store.insert_resource(&version).await?;
    state
        .store
        .insert_resource(&row(mapping::KIND, id.clone(), &caller, &doc, now))
        .await?;
    tracing::info!(mapping_set = %id, "mapping set created");
    Ok(json_response(StatusCode::OK, &summary(&doc)))
}

#[utoipa::path(get, path = "/mappingSets", tag = "Mapping sets", params(("limit" = Option<u32>, Query, description = "1 to 100 (10)"), ("start" = Option<u64>, Query)),
    responses((status = 200, description = "A page of mapping sets, newest first", body = crate::api::schema::catalog::MappingSetPage)))]
async fn list_mapping_sets(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SetQuery>,
) -> Result<Response, ApiError> {
    let number = |text: Option<&str>, default: usize, max: usize| match text.map(|t| t.trim().parse::<usize>()) {
        None => Ok(default),
        Some(Ok(n)) if n <= max => Ok(n),
        _ => Err(ApiError::bad_request(
            "1402",
            format!("`limit` must be a whole number from 1 to {MAX_LIMIT}, and `start` a whole number"),
        )),
    };
    let limit = number(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?.max(1);
    let start = number(query.start.as_deref(), 0, usize::MAX)?;
    let page = OffsetPage {
        filters: Vec::new(),
        order: vec![(SortBy::CreatedAt, true)],
        start,
        limit,
    };
    let rows = state.store.list_offset(mapping::KIND, &caller.tenant, &page).await?;
    let total = state.store.count_page(mapping::KIND, &caller.tenant, &[]).await? as usize;
    let data: Vec<Value> = rows.into_iter().map(|r| r.doc).collect();
    let links = if start + data.len() < total {
        json!({"next": {"href": format!("/mappingSets?start={}&limit={limit}", start + data.len())}})
    } else {
        json!({})
    };
    let answer = json!({"data": data, "_page": {"count": total, "limit": limit}, "_links": links});
    Ok(json_response(StatusCode::OK, &answer))
}

#[utoipa::path(get, path = "/mappingSets/{id}", tag = "Mapping sets", params(("id" = String, Path), ("version" = Option<i64>, Query)),
    responses((status = 200, description = "The mapping set (its latest version unless `version` is given)", body = crate::api::schema::catalog::MappingSetItem)))]
async fn get_mapping_set(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<SetQuery>,
) -> Result<Response, ApiError> {
    let current = find(&state, &caller, MAPPING_SET, &id).await?;
    let Some(version) = query.version.as_deref() else {
        return Ok(json_response(StatusCode::OK, &current.doc));
    };
    let version: i64 = version
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request("1402", "`version` must be a whole number"))?;
    let stored = state
        .store
        .get_resource(
            mapping::VERSION_KIND,
            &caller.tenant,
            &mapping::version_id(&id, version),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("Mapping set version", &format!("{id} version {version}")))?;
    Ok(json_response(StatusCode::OK, &stored.doc))
}

#[utoipa::path(put, path = "/mappingSets/{id}", tag = "Mapping sets", params(("id" = String, Path)), request_body = crate::api::schema::requests::MappingSetBody,
    responses((status = 200, description = "The set at its new version", body = crate::api::schema::catalog::MappingSetSummary)))]
async fn put_mapping_set(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let current = find(&state, &caller, MAPPING_SET, &id).await?;
        let now = now_millis();
        let version = current.doc["version"].as_i64().unwrap_or(0) + 1;
        let created_by = current.doc["createdBy"].as_str().unwrap_or_default();
        let created = (created_by, current.doc["createdDate"].as_i64().unwrap_or(now));
        let doc = document(&body, &id, version, created, &caller, now)?;
        let version_row = row(
            mapping::VERSION_KIND,
            mapping::version_id(&id, version),
            &caller,
            &doc,
            now,
        );
        let updated = ResourceRow {
            etag: new_etag(),
            updated_at: now,
            doc: doc.clone(),
            ..current.clone()
        };
        // One transaction: a caller that goes away cannot leave version n+1 without the
        // set at n+1 (which would make every later PUT lose the race for n+1).
        let write = state.store.update_resource_with(&updated, &current.etag, &version_row);
        return match write.await {
            Ok(Update::Done) => Ok(json_response(StatusCode::OK, &doc)),
            Ok(Update::Stale) | Err(StoreError::Conflict) => continue,
            Ok(Update::NotFound) => Err(ApiError::not_found(MAPPING_SET.noun, &id)),
            Err(e) => Err(e.into()),
        };
    }
    Err(ApiError::flow(
        StatusCode::CONFLICT,
        "1409",
        format!("mapping set {id} is being updated by others right now; retry"),
    ))
}

#[utoipa::path(delete, path = "/mappingSets/{id}", tag = "Mapping sets", params(("id" = String, Path)), responses((status = 204, description = "Deleted, every version")))]
async fn delete_mapping_set(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let current = find(&state, &caller, MAPPING_SET, &id).await?;
    if let Some(flow) = first_user(&state, &caller, FLOW, "transformations.params.mappingId", &id).await? {
        return Err(in_use(MAPPING_SET, &id, &format!("flow {flow}")));
    }
    state.store.delete_resource(mapping::KIND, &caller.tenant, &id).await?;
    for version in 0..=current.doc["version"].as_i64().unwrap_or(0) {
        let version_id = mapping::version_id(&id, version);
        state
            .store
            .delete_resource(mapping::VERSION_KIND, &caller.tenant, &version_id)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
