//! `/flows` (§9): dataflows from one source connection to one target connection on a
//! schedule. The rules live in [`super::flow_checks`]; `lastRunDetails` and the `runs`
//! link are computed when an item is read.

use std::collections::HashMap;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::ApiError;
use super::flow_checks::checked;
use super::resource::{FLOW, create, find, find_for_patch, list_answer, merge, one, patch, replace};
use crate::app::AppState;
use crate::flows::runs::last_run_details;
use crate::flows::schedule::integer;
use crate::identity::Caller;
use crate::store::{ResourceRow, RunRow, now_millis};

/// The flow routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_flow, list_flows))
        .routes(routes!(get_flow, patch_flow, delete_flow))
        .routes(routes!(flow_action))
}

#[utoipa::path(post, path = "/flows", tag = "Flows", responses((status = 201, description = "Created: `{id, etag}`")))]
async fn create_flow(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut doc = checked(&state, &caller, &body, None).await?;
    doc["state"] = json!("enabled");
    create(&state, &caller, FLOW, doc).await
}

#[utoipa::path(get, path = "/flows", tag = "Flows", responses((status = 200, description = "A page of flows, or `{count}`")))]
async fn list_flows(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let rows = state.store.list_resources(FLOW.store, &caller.tenant).await?;
    let runs = state.store.list_runs(&caller.tenant).await?;
    let mut by_flow: HashMap<&str, Vec<&RunRow>> = HashMap::new();
    for run in &runs {
        by_flow.entry(run.flow_id.as_str()).or_default().push(run);
    }
    let items = rows
        .iter()
        .map(|row| {
            let runs = by_flow.get(row.id.as_str()).map(Vec::as_slice).unwrap_or_default();
            item(row, runs.iter().copied())
        })
        .collect();
    list_answer(query.as_deref(), items, "/flows")
}

#[utoipa::path(get, path = "/flows/{id}", tag = "Flows", params(("id" = String, Path)), responses((status = 200, description = "`{items: [flow]}`")))]
async fn get_flow(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let row = find(&state, &caller, FLOW, &id).await?;
    let runs = state.store.list_runs(&caller.tenant).await?;
    Ok(one(item(&row, runs.iter().filter(|run| run.flow_id == id))))
}

/// The flow as the API shows it: its document, the link to its runs and its newest run.
fn item<'a>(row: &ResourceRow, runs: impl Iterator<Item = &'a RunRow>) -> Value {
    let mut item = row.doc.clone();
    item["runs"] = json!(format!("/runs?property=flowId=={}", row.id));
    if let Some(details) = last_run_details(runs) {
        item["lastRunDetails"] = details;
    }
    item
}

#[utoipa::path(patch, path = "/flows/{id}", tag = "Flows", params(("id" = String, Path)), responses((status = 200, description = "`{id, etag}`")))]
async fn patch_flow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(ops): JsonBody,
) -> Result<Response, ApiError> {
    let row = find_for_patch(&state, &caller, FLOW, &id, &headers).await?;
    let allowed = [
        "/name",
        "/description",
        "/scheduleParams",
        "/transformations",
        "/options",
    ];
    let view = patch(&row.doc, &ops, &allowed)?;
    let kept_start = integer(&row.doc["scheduleParams"]["startTime"]);
    let mut doc = row.doc.clone();
    merge(&mut doc, checked(&state, &caller, &view, kept_start).await?);
    replace(&state, &caller, FLOW, &row, doc).await
}

/// `POST /flows/{id}/action`'s query.
#[derive(Deserialize)]
struct ActionQuery {
    op: Option<String>,
}

#[utoipa::path(post, path = "/flows/{id}/action", tag = "Flows", params(("id" = String, Path), ("op" = String, Query, description = "enable or disable, any case")),
    responses((status = 200, description = "`{id, etag}`")))]
async fn flow_action(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ActionQuery>,
) -> Result<Response, ApiError> {
    let op = query.op.unwrap_or_default().to_ascii_lowercase();
    let new_state = match op.as_str() {
        "enable" => "enabled",
        "disable" => "disabled",
        _ => {
            return Err(ApiError::bad_request("1406", "`op` must be enable or disable"));
        }
    };
    let row = find(&state, &caller, FLOW, &id).await?;
    let mut doc = row.doc.clone();
    doc["state"] = json!(new_state);
    let answer = replace(&state, &caller, FLOW, &row, doc).await?;
    tracing::info!(flow = %id, state = new_state, "flow state changed");
    Ok(answer)
}

#[utoipa::path(delete, path = "/flows/{id}", tag = "Flows", params(("id" = String, Path)), responses((status = 204, description = "Deleted; its runs that had not started are cancelled")))]
async fn delete_flow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    find(&state, &caller, FLOW, &id).await?;
    if !state.store.delete_resource(FLOW.store, &caller.tenant, &id).await? {
        return Err(ApiError::not_found(FLOW.noun, &id));
    }
    // After the delete, so a run the scheduler made meanwhile is cancelled too.
    let cancelled = state.store.cancel_scheduled_runs(&id, now_millis()).await?;
    tracing::info!(flow = %id, cancelled, "flow deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
