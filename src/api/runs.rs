//! `/runs` (§9): the runs of the caller's flows, on-demand runs of `once` flows, and the
//! re-run of a failed run (`POST /runs/{id}/action?op=re-trigger`).

use std::collections::HashMap;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::{ApiError, json_response};
use super::fields::Fields;
use super::flow_checks::{START_GRACE, check_columns};
use super::paging::ListQuery;
use super::resource::{FLOW, SOURCE_CONNECTION, find, one, referenced};
use super::run_item::{Hold, RunItem};
use crate::flows::model::{DeltaColumn, Flow, SourceConnection};
use crate::flows::runs::{new_run, rerun};
use crate::flows::schedule::{Frequency, Window, integer};
use crate::flows::schema_policy::SCHEMA_CHANGE_PAUSED;
use crate::identity::Caller;
use crate::schema_changes::SchemaChoice;
use crate::state::AppState;
use crate::store::{OnDemandParams, RUN_FIELDS, RunRow, RunStatus, Store, StoreError, StoredDeltaColumn};

/// How often an on-demand run retries when another one took its window number.
const INSERT_ATTEMPTS: usize = 5;

/// The run routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs, create_run))
        .routes(routes!(get_run))
        .routes(routes!(run_action))
}

/// Why each flow's scheduled runs wait, if they do: its first failed window.
pub async fn holds(store: &Store, flow_ids: impl Iterator<Item = &str>) -> Result<HashMap<String, Hold>, StoreError> {
    let mut holds = HashMap::new();
    for flow_id in flow_ids {
        if holds.contains_key(flow_id) {
            continue;
        }
        if let Some(failed) = store.first_failed_run(flow_id).await? {
            let hold = Hold {
                run_id: failed.id,
                window_number: failed.window_number,
            };
            holds.insert(flow_id.to_string(), hold);
        }
    }
    Ok(holds)
}

#[utoipa::path(get, path = "/runs", tag = "Runs", params(crate::api::schema::ListParams),
    responses((status = 200, description = "A page of runs (filter with property=flowId==<id>), or `{count}`", body = crate::api::schema::ListAnswer<crate::api::run_item::RunItem>)))]
async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(query.as_deref(), &state.list_key)?;
    if let Some(filter) = query
        .filters()
        .iter()
        .find(|f| !RUN_FIELDS.iter().any(|(path, ..)| *path == f.path))
    {
        let fields: Vec<&str> = RUN_FIELDS.iter().map(|(path, ..)| *path).collect();
        return Err(ApiError::bad_request(
            "1402",
            format!(
                "runs cannot be filtered by `{}`; they can by {}",
                filter.path,
                fields.join(", ")
            ),
        ));
    }
    if query.counts() {
        let count = state.store.count_runs(&caller.tenant, &query.filters()).await?;
        return Ok(json_response(StatusCode::OK, &json!({ "count": count })));
    }
    let runs = state.store.list_runs_page(&caller.tenant, &query.page()).await?;
    let holds = holds(&state.store, runs.iter().map(|run| run.flow_id.as_str())).await?;
    let items = runs
        .iter()
        .map(|run| RunItem::new(run, holds.get(&run.flow_id)).to_json())
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &query.answer_page(items, "/runs", &state.list_key),
    ))
}

#[utoipa::path(get, path = "/runs/{id}", tag = "Runs", params(("id" = String, Path)),
    responses((status = 200, description = "The run", body = crate::api::schema::One<crate::api::run_item::RunItem>)))]
async fn get_run(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let run = caller_run(&state, &caller, &id).await?;
    let holds = holds(&state.store, std::iter::once(run.flow_id.as_str())).await?;
    Ok(one(RunItem::new(&run, holds.get(&run.flow_id)).to_json()))
}

async fn caller_run(state: &AppState, caller: &Caller, id: &str) -> Result<RunRow, ApiError> {
    state
        .store
        .get_run(&caller.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Run", id))
}

/// `POST /runs/{id}/action`'s query.
#[derive(Deserialize)]
struct ActionQuery {
    op: Option<String>,
    /// Inlet: the choice for a run paused by a schema change.
    #[serde(rename = "schemaChanges")]
    schema_changes: Option<String>,
}

#[utoipa::path(post, path = "/runs/{id}/action", tag = "Runs",
    params(("id" = String, Path), ("op" = String, Query, description = "re-trigger (any case): re-run a failed run"),
        ("schemaChanges" = Option<String>, Query, description = "Inlet: for a run paused by a schema change (SCHEMA_CHANGE_PAUSED): accept (apply the changes) or resnapshot (replace the dataset with the whole table under its new schema)")),
    responses((status = 201, description = "The new run", body = crate::api::schema::Created)))]
async fn run_action(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ActionQuery>,
) -> Result<Response, ApiError> {
    if !query.op.unwrap_or_default().eq_ignore_ascii_case("re-trigger") {
        return Err(ApiError::bad_request("1388", "`op` must be re-trigger"));
    }
    let choice = match query.schema_changes.as_deref() {
        None => None,
        Some(text) => Some(SchemaChoice::parse(text).ok_or_else(|| {
            ApiError::bad_request("1391", format!("`schemaChanges` must be {}", SchemaChoice::NAMES))
        })?),
    };
    let failed = caller_run(&state, &caller, &id).await?;
    if let Some(retry) = &failed.replaced_by {
        return Err(ApiError::flow(
            StatusCode::CONFLICT,
            "1390",
            format!("run {id} was re-run already, by run {retry}"),
        ));
    }
    if failed.status != RunStatus::Failed {
        return Err(ApiError::bad_request(
            "1389",
            format!("run {id} is {}; only a failed run can be re-run", failed.status),
        ));
    }
    let flow_row = find(&state, &caller, FLOW, &failed.flow_id).await?;
    if !Flow::from_row(&flow_row).map_err(ApiError::internal)?.enabled {
        return Err(ApiError::bad_request(
            "1385",
            format!("flow {} is disabled; enable it first", failed.flow_id),
        ));
    }
    let paused = failed
        .details
        .metrics
        .status_summary
        .errors
        .iter()
        .any(|e| e.code == SCHEMA_CHANGE_PAUSED);
    if choice.is_some() && !paused {
        return Err(ApiError::bad_request(
            "1391",
            format!("run {id} was not paused by a schema change; re-trigger it without `schemaChanges`"),
        ));
    }
    let narrowed = failed.details.schema_changes.iter().find(|c| c.kind.needs_resnapshot());
    if let (Some(SchemaChoice::Accept), Some(change)) = (choice, narrowed) {
        return Err(ApiError::bad_request(
            "1391",
            format!(
                "{} cannot be accepted: the dataset's values would have to be cast, or its rows merged by two keys; \
                 choose schemaChanges=resnapshot",
                change.describe()
            ),
        ));
    }
    let mut retry = rerun(&failed, state.clock.now(), state.clock.wall_millis());
    retry.details.schema_choice = choice;
    if !state.store.insert_retry(&failed.id, &retry).await? {
        return Err(ApiError::flow(
            StatusCode::CONFLICT,
            "1390",
            format!("run {id} was re-run meanwhile; list the flow's runs to see the new one"),
        ));
    }
    tracing::info!(run = %retry.id, failed = %id, window = retry.window_number, "failed run re-triggered");
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"id": retry.id, "etag": retry.etag}),
    ))
}

#[utoipa::path(post, path = "/runs", tag = "Runs", request_body = crate::api::schema::requests::CreateRun,
    responses((status = 201, description = "`{items: [{id, etag}]}`", body = crate::api::schema::One<crate::api::schema::Created>)))]
async fn create_run(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let flow_id = fields.required("/flowId");
    fields.finish("The run request is not valid")?;
    let row = referenced(&state, &caller, FLOW, &flow_id, "/flowId").await?;
    let flow = Flow::from_row(&row).map_err(ApiError::internal)?;
    if flow.schedule.frequency != Frequency::Once {
        return Err(ApiError::bad_request(
            "1386",
            format!(
                "flow {flow_id} runs every {} {}; only `once` flows take on-demand runs",
                flow.schedule.interval,
                flow.schedule.frequency.as_str()
            ),
        ));
    }
    if !flow.enabled {
        return Err(ApiError::bad_request(
            "1385",
            format!("flow {flow_id} is disabled; enable it first"),
        ));
    }
    let source = referenced(
        &state,
        &caller,
        SOURCE_CONNECTION,
        &flow.source_connection_id,
        "source connection",
    )
    .await?;
    let run = if SourceConnection::from_row(&source).map_err(ApiError::internal)?.cdc {
        let start = changes_on_demand(&body["params"], state.clock.now())?;
        insert(&state, &caller, &flow, (None, start)).await?
    } else {
        let asked = on_demand(&body["params"], state.clock.now())?;
        check_columns(&state, &caller, &source, Some(&asked.delta_column.name), &[]).await?;
        let start = asked.start_time;
        insert(&state, &caller, &flow, (Some(asked), start)).await?
    };
    tracing::info!(flow = %flow_id, run = %run.id, window = run.window_number, "on-demand run created");
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"items": [{"id": run.id, "etag": run.etag}]}),
    ))
}

/// Reads `params` of `POST /runs`: `1382` a bound missing or not epoch seconds,
/// `1381` a window that does not end after it starts, `1383` a start in the past,
/// `1384` a delta column missing or malformed.
fn on_demand(params: &Value, now: i64) -> Result<OnDemandParams, ApiError> {
    let bound = |name: &str| {
        integer(&params[name]).ok_or_else(|| {
            ApiError::bad_request(
                "1382",
                format!("params.{name} is required: epoch seconds, as a number or a string of digits"),
            )
        })
    };
    let (window_start, window_end) = (bound("windowStartTime")?, bound("windowEndTime")?);
    if window_end <= window_start {
        return Err(ApiError::bad_request(
            "1381",
            format!(
                "the window ends ({window_end}) before it starts ({window_start}); windowEndTime must be later than windowStartTime"
            ),
        ));
    }
    let start = match &params["startTime"] {
        Value::Null => now,
        _ => bound("startTime")?,
    };
    if start < now - START_GRACE {
        return Err(ApiError::bad_request(
            "1383",
            format!("params.startTime {start} is in the past; the server's time is {now}"),
        ));
    }
    let delta_column = DeltaColumn::parse(&params["deltaColumn"], "params.deltaColumn")
        .map_err(|violations| {
            let listed: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
            ApiError::bad_request("1384", listed.join("; "))
        })?
        .ok_or_else(|| {
            ApiError::bad_request(
                "1384",
                "params.deltaColumn is required: an on-demand run copies the rows whose delta column \
                 ({\"name\": <a timestamp or date column>}) falls in [windowStartTime, windowEndTime)",
            )
        })?;
    Ok(OnDemandParams {
        start_time: start.max(now),
        window_start_time: window_start,
        window_end_time: window_end,
        delta_column: StoredDeltaColumn {
            name: delta_column.name,
            timezone: delta_column.timezone,
        },
    })
}

/// Reads `params` of `POST /runs` for a change data capture flow: its run merges every
/// change since the last run, so it takes no window and no delta column (`1384`), only
/// an optional `startTime`; returns when it starts.
fn changes_on_demand(params: &Value, now: i64) -> Result<i64, ApiError> {
    for name in ["windowStartTime", "windowEndTime", "deltaColumn"] {
        if !params[name].is_null() {
            return Err(ApiError::bad_request(
                "1384",
                format!(
                    "params.{name} is not taken by a change data capture flow: its run merges every change committed \
                     since the last run; leave params out, or give only startTime"
                ),
            ));
        }
    }
    let start = match &params["startTime"] {
        Value::Null => now,
        value => integer(value).ok_or_else(|| {
            ApiError::bad_request(
                "1382",
                "params.startTime must be epoch seconds, as a number or a string of digits",
            )
        })?,
    };
    if start < now - START_GRACE {
        return Err(ApiError::bad_request(
            "1383",
            format!("params.startTime {start} is in the past; the server's time is {now}"),
        ));
    }
    Ok(start.max(now))
}

/// Records the run under the flow's next window number. Window 1 of a `once` flow is its
/// scheduled run; if that is not recorded yet it is recorded first, so that the
/// scheduler, which plans from the last window, does not lose it. The run waits for the
/// flow's earlier windows, like every run.
async fn insert(
    state: &AppState,
    caller: &Caller,
    flow: &Flow,
    (asked, start): (Option<OnDemandParams>, i64),
) -> Result<RunRow, ApiError> {
    for _ in 0..INSERT_ATTEMPTS {
        let now_ms = state.clock.wall_millis();
        let Some(last) = state.store.last_window(&flow.id).await? else {
            let first = flow.schedule.window(1);
            let due = flow.schedule.due_at(&first, 0);
            state
                .store
                .insert_run(&new_run(&caller.tenant, &flow.id, &first, due, now_ms))
                .await?;
            continue;
        };
        let window = Window {
            number: last.number + 1,
            start: asked.as_ref().map(|a| a.window_start_time),
            end: asked.as_ref().map(|a| a.window_end_time),
        };
        let mut run = new_run(&caller.tenant, &flow.id, &window, start, now_ms);
        run.details.params = asked.clone();
        if state.store.insert_run(&run).await? {
            return Ok(run);
        }
    }
    Err(ApiError::flow(
        StatusCode::CONFLICT,
        "1387",
        format!("flow {} is taking other runs right now; retry", flow.id),
    ))
}
