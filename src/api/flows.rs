//! `/flows` (§9): dataflows from one source connection to one target connection on a
//! schedule. The rules live in [`super::flow_checks`]; `lastRunDetails` and the `runs`
//! link are computed when an item is read.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::{ApiError, json_response};
use super::flow_capture;
use super::flow_checks::checked;
use super::resource::{FLOW, create, find, find_for_patch, list_items, merge, one, patch, replace};
use super::schema::items::{FlowPause, PauseChoice};
use crate::flows::schedule::integer;
use crate::flows::schema_policy::SCHEMA_CHANGE_PAUSED;
use crate::identity::Caller;
use crate::schema_changes::SchemaChoice;
use crate::state::AppState;
use crate::store::{ResourceRow, RunRow, now_millis};

/// The flow routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_flow, list_flows))
        .routes(routes!(get_flow, patch_flow, delete_flow))
        .routes(routes!(flow_action))
}

#[utoipa::path(post, path = "/flows", tag = "Flows", request_body = crate::api::schema::requests::CreateFlow,
    responses((status = 201, description = "Created", body = crate::api::schema::Created)))]
async fn create_flow(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut doc = serde_json::to_value(checked(&state, &caller, &body, None).await?).map_err(ApiError::internal)?;
    doc["state"] = json!("enabled");
    create(&state, &caller, FLOW, doc).await
}

#[utoipa::path(get, path = "/flows", tag = "Flows", params(crate::api::schema::ListParams),
    responses((status = 200, description = "A page of flows, or `{count}`", body = crate::api::schema::ListAnswer<crate::api::schema::items::FlowItem>)))]
async fn list_flows(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut answer = list_items(&state, &caller, FLOW, query.as_deref(), "/flows", item).await?;
    // Each item's runs are looked up for the page only, by the flow's own index.
    if let Some(page) = answer["items"].as_array_mut() {
        for item in page {
            let id = item["id"].as_str().unwrap_or_default().to_string();
            add_runs(&state, &id, item).await?;
        }
    }
    Ok(json_response(StatusCode::OK, &answer))
}

#[utoipa::path(get, path = "/flows/{id}", tag = "Flows", params(("id" = String, Path)),
    responses((status = 200, description = "The flow", body = crate::api::schema::One<crate::api::schema::items::FlowItem>)))]
async fn get_flow(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let row = find(&state, &caller, FLOW, &id).await?;
    let mut shown = item(&row);
    add_runs(&state, &id, &mut shown).await?;
    flow_capture::add_capture(&state, &caller, &row, &mut shown).await?;
    Ok(one(shown))
}

/// The flow as stored, with the link to its runs.
fn item(row: &ResourceRow) -> Value {
    let mut item = row.doc.clone();
    item["runs"] = json!(format!("/runs?property=flowId=={}", row.id));
    item
}

/// Adds `lastRunDetails` (the run in progress or the last that ended, else the next
/// scheduled one) and, while a failed window holds the later ones back, Inlet's `heldBy`.
async fn add_runs(state: &AppState, flow_id: &str, item: &mut Value) -> Result<(), ApiError> {
    if let Some(last) = state.store.last_run(flow_id).await? {
        let summary = &last.details.metrics.duration_summary;
        item["lastRunDetails"] = json!({
            "id": last.id,
            "state": last.status,
            "startedAtUTC": summary.started_at_utc,
            "completedAtUTC": summary.completed_at_utc,
        });
    }
    if let Some(failed) = state.store.first_failed_run(flow_id).await? {
        let waiting = state.store.count_waiting_after(flow_id, failed.window_number).await?;
        if let Some(pause) = schema_pause(&failed) {
            item["inletPaused"] = serde_json::to_value(pause).map_err(ApiError::internal)?;
        }
        item["heldBy"] = json!({
            "runId": failed.id,
            "windowNumber": failed.window_number,
            "waitingRuns": waiting,
            "message": format!(
                "window {} failed; the flow's later windows wait for it to land. Re-run it with \
                 POST /runs/{}/action?op=re-trigger once its cause is fixed",
                failed.window_number, failed.id
            ),
        });
    }
    Ok(())
}

/// Inlet's `inletPaused`, when the failed run that holds the flow met a schema change its
/// policy does not take: why, the changes, and the user's choices.
fn schema_pause(failed: &RunRow) -> Option<FlowPause> {
    let error = failed
        .details
        .metrics
        .status_summary
        .errors
        .iter()
        .find(|e| e.code == SCHEMA_CHANGE_PAUSED)?;
    let changes = &failed.details.schema_changes;
    let narrowing = changes.iter().any(|c| c.kind.needs_resnapshot());
    let choice = |choice: SchemaChoice, does: &str| PauseChoice {
        choice,
        post: format!(
            "/runs/{}/action?op=re-trigger&schemaChanges={}",
            failed.id,
            choice.as_str()
        ),
        does: does.to_string(),
    };
    let mut choices = Vec::new();
    if !narrowing {
        choices.push(choice(
            SchemaChoice::Accept,
            "applies the changes to the dataset (new columns, wider types; dropped columns kept) and lands the window",
        ));
    }
    choices.push(choice(
        SchemaChoice::Resnapshot,
        "replaces the dataset with the whole table under its new schema, up to this window; later windows then land",
    ));
    Some(FlowPause {
        reason: "schemaChange".into(),
        run_id: failed.id.clone(),
        message: error.message.clone(),
        schema_changes: changes.clone(),
        choices,
    })
}

#[utoipa::path(patch, path = "/flows/{id}", tag = "Flows", params(("id" = String, Path), ("If-Match" = String, Header, description = "The etag the change is based on")),
    request_body = Vec<crate::api::schema::requests::PatchOperation>,
    responses((status = 200, description = "Changed", body = crate::api::schema::Created)))]
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
        "/inletAlerts",
    ];
    let view = patch(&row.doc, &ops, &allowed)?;
    let kept_start = integer(&row.doc["scheduleParams"]["startTime"]);
    let mut doc = row.doc.clone();
    let checked = checked(&state, &caller, &view, kept_start).await?;
    let thresholds_removed = checked.inlet_alerts.is_none();
    merge(&mut doc, serde_json::to_value(checked).map_err(ApiError::internal)?);
    if thresholds_removed && let Some(fields) = doc.as_object_mut() {
        // Merging keeps what the checked body leaves out: thresholds removed must go.
        fields.remove(crate::alerts::thresholds::FIELD);
    }
    replace(&state, &caller, FLOW, &row, doc).await
}

/// `POST /flows/{id}/action`'s query.
#[derive(Deserialize)]
struct ActionQuery {
    op: Option<String>,
}

#[utoipa::path(post, path = "/flows/{id}/action", tag = "Flows", params(("id" = String, Path), ("op" = String, Query, description = "enable, disable, or (change data capture flows) resnapshot; any case")),
    responses((status = 200, description = "`{id, etag}`", body = crate::api::schema::Created)))]
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
        "resnapshot" => {
            let row = find(&state, &caller, FLOW, &id).await?;
            flow_capture::request_resnapshot(&state, &caller, &row).await?;
            tracing::info!(flow = %id, "re-snapshot requested");
            return Ok(json_response(StatusCode::OK, &json!({"id": row.id, "etag": row.etag})));
        }
        _ => {
            return Err(ApiError::bad_request(
                "1406",
                "`op` must be enable, disable or (for a change data capture flow) resnapshot",
            ));
        }
    };
    let row = find(&state, &caller, FLOW, &id).await?;
    let mut doc = row.doc.clone();
    doc["state"] = json!(new_state);
    let answer = replace(&state, &caller, FLOW, &row, doc).await?;
    // After the state is written, so that a worker that cancels a run meanwhile sees it
    // (see `flows::worker`): no window of a flow that is enabled again is skipped.
    let moved = if new_state == "enabled" {
        state.store.resume_cancelled_runs(&id, now_millis()).await?
    } else {
        state.store.cancel_scheduled_runs(&id, now_millis()).await?
    };
    tracing::info!(flow = %id, state = new_state, runs = moved, "flow state changed");
    Ok(answer)
}

/// `DELETE /flows/{id}`'s query.
#[derive(Deserialize)]
struct DeleteQuery {
    #[serde(rename = "keepReplicationSlot")]
    keep_replication_slot: Option<String>,
}

#[utoipa::path(delete, path = "/flows/{id}", tag = "Flows", params(("id" = String, Path),
        ("keepReplicationSlot" = Option<bool>, Query, description = "Inlet: delete a change data capture flow without dropping its replication slot")),
    responses((status = 204, description = "Deleted; its runs that had not started are cancelled, a change data capture flow's slot dropped"),
        (status = 409, description = "The flow's replication slot could not be dropped; nothing was deleted")))]
async fn delete_flow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> Result<Response, ApiError> {
    let keep = match query
        .keep_replication_slot
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "1406",
                "`keepReplicationSlot` must be true or false",
            ));
        }
    };
    let row = find(&state, &caller, FLOW, &id).await?;
    flow_capture::drop_capture(&state, &caller, &row, keep).await?;
    if !state.store.delete_resource(FLOW.store, &caller.tenant, &id).await? {
        return Err(ApiError::not_found(FLOW.noun, &id));
    }
    // After the delete, so a run the scheduler made meanwhile is cancelled too.
    let cancelled = state.store.cancel_scheduled_runs(&id, now_millis()).await?;
    tracing::info!(flow = %id, cancelled, "flow deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
