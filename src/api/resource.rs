//! What every Flow Service resource shares: finding one of the caller's, etags and
//! `If-Match`, the audit fields of its item, conditional replacement, JSON Patch on a
//! whitelist of paths, and lists.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::{ApiError, json_response};
use super::paging::ListQuery;
use crate::flows::model;
use crate::identity::Caller;
use crate::state::AppState;
use crate::store::{FieldFilter, FieldTest, Page, ResourceRow, SortBy, Update, new_etag, now_millis};

/// One kind of stored resource and the word users know it by.
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    /// The store kind, e.g. `sourceConnection`.
    pub store: &'static str,
    /// The word in messages, e.g. `Source connection`.
    pub noun: &'static str,
}

/// Base connections.
pub const CONNECTION: Kind = Kind {
    store: crate::connections::KIND,
    noun: "Connection",
};
/// Source connections.
pub const SOURCE_CONNECTION: Kind = Kind {
    store: model::SOURCE_CONNECTION_KIND,
    noun: "Source connection",
};
/// Target connections.
pub const TARGET_CONNECTION: Kind = Kind {
    store: model::TARGET_CONNECTION_KIND,
    noun: "Target connection",
};
/// Flows.
pub const FLOW: Kind = Kind {
    store: model::FLOW_KIND,
    noun: "Flow",
};
/// Mapping sets (their current versions).
pub const MAPPING_SET: Kind = Kind {
    store: crate::mapping::KIND,
    noun: "Mapping set",
};
/// Datasets of the lake (created through the Catalog API).
pub const DATASET: Kind = Kind {
    store: model::DATASET_KIND,
    noun: "Dataset",
};

/// The caller's resource `id` of `kind`, or `1101-404`.
pub async fn find(state: &AppState, caller: &Caller, kind: Kind, id: &str) -> Result<ResourceRow, ApiError> {
    state
        .store
        .get_resource(kind.store, &caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(kind.noun, id))
}

/// The caller's resource `id` of `kind` that a request body names at `path`:
/// `1102-400` when there is none, because the request, not its URL, is wrong.
pub async fn referenced(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    id: &str,
    path: &str,
) -> Result<ResourceRow, ApiError> {
    state
        .store
        .get_resource(kind.store, &caller.tenant, id)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "1102",
                format!(
                    "{path}: {} {id} was not found in this organization and sandbox",
                    kind.noun
                ),
            )
        })
}

/// The `If-Match` header, or `1403-400`.
pub fn if_match(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "1403",
                "PATCH needs an If-Match header carrying the resource's current etag",
            )
        })
}

/// Etags compare with or without their quotes and a weak `W/` prefix.
pub fn same_etag(given: &str, stored: &str) -> bool {
    let bare = |s: &str| s.trim().trim_start_matches("W/").trim_matches('"').to_string();
    bare(given) == bare(stored)
}

/// `1404-412`: the resource changed since the caller read it.
pub fn stale(kind: Kind, id: &str) -> ApiError {
    ApiError::flow(
        StatusCode::PRECONDITION_FAILED,
        "1404",
        format!(
            "{} {id} has changed since that etag was read; GET it again and retry",
            kind.noun
        ),
    )
}

/// The resource a PATCH addresses, after its `If-Match` was checked against it.
pub async fn find_for_patch(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
) -> Result<ResourceRow, ApiError> {
    let given = if_match(headers)?;
    let row = find(state, caller, kind, id).await?;
    if !same_etag(given, &row.etag) {
        return Err(stale(kind, id));
    }
    Ok(row)
}

/// The fields every Flow Service item carries: who made it, when, where, and its etag.
pub fn audit_fields(id: &str, caller: &Caller, etag: &str, now: i64) -> Value {
    json!({
        "id": id,
        "createdAt": now,
        "updatedAt": now,
        "createdBy": caller.subject,
        "updatedBy": caller.subject,
        "createdClient": caller.client_id,
        "updatedClient": caller.client_id,
        "sandboxId": caller.tenant.sandbox_id(),
        "sandboxName": caller.tenant.sandbox,
        "imsOrgId": caller.tenant.org,
        "version": etag,
        "etag": etag,
    })
}

/// Copies `fields` (an object) into `doc`.
pub fn merge(doc: &mut Value, fields: Value) {
    if let (Some(doc), Value::Object(fields)) = (doc.as_object_mut(), fields) {
        doc.extend(fields);
    }
}

/// Stores a new resource of `kind` whose item is `doc` (audit fields added); answers
/// `201 {id, etag}`.
pub async fn create(state: &AppState, caller: &Caller, kind: Kind, mut doc: Value) -> Result<Response, ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let etag = new_etag();
    let now = now_millis();
    merge(&mut doc, audit_fields(&id, caller, &etag, now));
    let row = ResourceRow {
        kind: kind.store.into(),
        id: id.clone(),
        tenant: caller.tenant.clone(),
        etag: etag.clone(),
        created_at: now,
        updated_at: now,
        doc,
        secret: None,
    };
    state.store.insert_resource(&row).await?;
    tracing::info!(kind = kind.store, id = %id, "resource created");
    Ok(json_response(StatusCode::CREATED, &json!({"id": id, "etag": etag})))
}

/// Replaces `row`'s document with `doc` under a new etag if nobody changed it since it
/// was read (`1404-412` otherwise); answers `200 {id, etag}`.
pub async fn replace(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    row: &ResourceRow,
    mut doc: Value,
) -> Result<Response, ApiError> {
    let etag = new_etag();
    let now = now_millis();
    merge(
        &mut doc,
        json!({"updatedAt": now, "updatedBy": caller.subject, "updatedClient": caller.client_id,
               "version": etag, "etag": etag}),
    );
    let updated = ResourceRow {
        etag: etag.clone(),
        updated_at: now,
        doc,
        ..row.clone()
    };
    match state.store.update_resource(&updated, &row.etag).await? {
        Update::Done => Ok(json_response(StatusCode::OK, &json!({"id": row.id, "etag": etag}))),
        Update::Stale => Err(stale(kind, &row.id)),
        Update::NotFound => Err(ApiError::not_found(kind.noun, &row.id)),
    }
}

/// `{"items": [item]}`, the answer to a GET of one resource.
pub fn one(item: Value) -> Response {
    json_response(StatusCode::OK, &json!({ "items": [item] }))
}

/// Applies a JSON Patch (ops in any case) to `view`, allowing only paths that are one of
/// `allowed` or lie below one; `1405-400` otherwise.
pub fn patch(view: &Value, ops: &Value, allowed: &[&str]) -> Result<Value, ApiError> {
    let bad = |message: String| ApiError::bad_request("1405", message);
    let list = ops
        .as_array()
        .ok_or_else(|| bad("the body must be a JSON Patch array of operations".into()))?;
    let mut normalised = Vec::with_capacity(list.len());
    for (index, op) in list.iter().enumerate() {
        let mut op = op.clone();
        let name = op["op"].as_str().unwrap_or_default().to_ascii_lowercase();
        if !["add", "replace", "remove"].contains(&name.as_str()) {
            return Err(bad(format!("operation {index}: `op` must be add, replace or remove")));
        }
        let path = op["path"].as_str().unwrap_or_default();
        let permitted = allowed
            .iter()
            .any(|a| path == *a || path.strip_prefix(a).is_some_and(|rest| rest.starts_with('/')));
        if !permitted {
            return Err(bad(format!(
                "operation {index}: path `{path}` cannot be changed; allowed paths: {}",
                allowed.join(", ")
            )));
        }
        op["op"] = Value::String(name);
        normalised.push(op);
    }
    let patch: json_patch::Patch = serde_json::from_value(Value::Array(normalised))
        .map_err(|_| bad("each operation needs a string `path`, and add and replace need a `value`".into()))?;
    let mut view = view.clone();
    json_patch::patch(&mut view, &patch)
        .map_err(|e| bad(format!("operation {} cannot be applied: {}", e.operation, e.kind)))?;
    // A patch may nest deeper than any body could; what is stored stays readable.
    super::body::within_bounds(&view)?;
    Ok(view)
}

/// The id of one of the caller's resources of `kind` that names `id` at the dotted
/// `path` of its document (in any element of a list on the way), found in SQL.
pub async fn first_user(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    path: &str,
    id: &str,
) -> Result<Option<String>, ApiError> {
    let page = Page {
        filters: vec![FieldFilter {
            path: path.to_string(),
            test: FieldTest::AnyOf(vec![id.to_string()]),
        }],
        sort: SortBy::CreatedAt,
        descending: false,
        after: None,
        rows: 1,
    };
    let rows = state.store.list_page(kind.store, &caller.tenant, &page).await?;
    Ok(rows.into_iter().next().map(|row| row.id))
}

/// A list request over the caller's resources of `kind` (§4), answered under
/// `base_path`: filtered, ordered and paged in SQL, each item as stored.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    raw_query: Option<&str>,
    base_path: &str,
) -> Result<Response, ApiError> {
    let answer = list_items(state, caller, kind, raw_query, base_path, |row| row.doc.clone()).await?;
    Ok(json_response(StatusCode::OK, &answer))
}

/// The answer to a list request over the caller's resources of `kind`, each item made by
/// `show`: `{"count"}` or a page with its `_links`.
pub async fn list_items(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    raw_query: Option<&str>,
    base_path: &str,
    show: impl Fn(&ResourceRow) -> Value,
) -> Result<Value, ApiError> {
    let query = ListQuery::parse(raw_query, &state.list_key)?;
    if query.counts() {
        let count = state
            .store
            .count_page(kind.store, &caller.tenant, &query.filters())
            .await?;
        return Ok(json!({ "count": count }));
    }
    let rows = state.store.list_page(kind.store, &caller.tenant, &query.page()).await?;
    let items = rows.iter().map(show).collect();
    Ok(query.answer_page(items, base_path, &state.list_key))
}

/// Deletes the caller's `kind` `id` (`1101-404` when there is none), unless a flow names
/// it in its `flow_field` list (`1418-400`).
pub async fn delete_unless_a_flow_uses(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    id: &str,
    flow_field: &str,
) -> Result<Response, ApiError> {
    find(state, caller, kind, id).await?;
    if let Some(flow) = first_user(state, caller, FLOW, flow_field, id).await? {
        return Err(in_use(kind, id, &format!("flow {flow}")));
    }
    if !state.store.delete_resource(kind.store, &caller.tenant, id).await? {
        return Err(ApiError::not_found(kind.noun, id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `1418-400`: `kind` `id` cannot be deleted while `user` refers to it.
pub fn in_use(kind: Kind, id: &str, user: &str) -> ApiError {
    ApiError::bad_request(
        "1418",
        format!("{} {id} is used by {user}; delete that first", kind.noun),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_touch_only_allowed_paths() {
        let view = json!({"name": "a", "params": {"tableName": "t"}, "id": "x"});
        let ops = json!([{"op": "Replace", "path": "/params/tableName", "value": "u"}]);
        assert_eq!(
            patch(&view, &ops, &["/name", "/params"]).unwrap()["params"]["tableName"],
            "u"
        );
        for ops in [
            json!([{"op": "replace", "path": "/id", "value": "y"}]),
            json!([{"op": "move", "path": "/name", "from": "/id"}]),
            json!([{"op": "replace", "path": "/namex", "value": "y"}]),
            json!({"op": "replace"}),
        ] {
            let Err(ApiError::Flow { code, .. }) = patch(&view, &ops, &["/name", "/params"]) else {
                panic!("{ops} was accepted")
            };
            assert_eq!(code, "1405");
        }
    }

    #[test]
    fn etags_compare_without_quotes_or_weakness() {
        assert!(same_etag("W/\"abc\"", "\"abc\""));
        assert!(same_etag("abc", "\"abc\""));
        assert!(!same_etag("\"abd\"", "\"abc\""));
    }
}
