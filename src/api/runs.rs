//! `/runs` (§9): the runs of the caller's flows, and on-demand runs of `once` flows.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::{ApiError, json_response};
use super::fields::Fields;
use super::flow_checks::{START_GRACE, check_columns};
use super::resource::{FLOW, SOURCE_CONNECTION, list_answer, one, referenced};
use crate::app::AppState;
use crate::flows::model::{DeltaColumn, Flow};
use crate::flows::runs::{new_run, run_item};
use crate::flows::schedule::{Frequency, Window, integer};
use crate::identity::Caller;
use crate::store::{RunRow, now_millis};

/// How often an on-demand run retries when another one took its window number.
const INSERT_ATTEMPTS: usize = 5;

/// The run routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs, create_run))
        .routes(routes!(get_run))
}

#[utoipa::path(get, path = "/runs", tag = "Runs", responses((status = 200, description = "A page of runs (filter with property=flowId==<id>), or `{count}`")))]
async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let runs = state.store.list_runs(&caller.tenant).await?;
    list_answer(query.as_deref(), runs.iter().map(run_item).collect(), "/runs")
}

#[utoipa::path(get, path = "/runs/{id}", tag = "Runs", params(("id" = String, Path)), responses((status = 200, description = "`{items: [run]}`")))]
async fn get_run(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let run = state
        .store
        .get_run(&caller.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Run", &id))?;
    Ok(one(run_item(&run)))
}

/// What `POST /runs` asks for, checked.
struct OnDemand {
    start: i64,
    window_start: i64,
    window_end: i64,
    delta_column: Option<DeltaColumn>,
}

#[utoipa::path(post, path = "/runs", tag = "Runs", responses((status = 201, description = "`{items: [{id, etag}]}`")))]
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
    let asked = on_demand(&body["params"], state.clock.now())?;
    if let Some(delta) = &asked.delta_column {
        let source = referenced(
            &state,
            &caller,
            SOURCE_CONNECTION,
            &flow.source_connection_id,
            "source connection",
        )
        .await?;
        check_columns(&state, &caller, &source, Some(&delta.name), &[]).await?;
    }
    let run = insert(&state, &caller, &flow, &asked).await?;
    tracing::info!(flow = %flow_id, run = %run.id, window = run.window_number, "on-demand run created");
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"items": [{"id": run.id, "etag": run.etag}]}),
    ))
}

/// Reads `params` of `POST /runs`: `1382` a bound missing or not epoch seconds,
/// `1381` a window that does not end after it starts, `1383` a start in the past,
/// `1384` a malformed delta column.
fn on_demand(params: &Value, now: i64) -> Result<OnDemand, ApiError> {
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
    let delta_column = DeltaColumn::parse(&params["deltaColumn"], "params.deltaColumn").map_err(|violations| {
        let listed: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        ApiError::bad_request("1384", listed.join("; "))
    })?;
    Ok(OnDemand {
        start: start.max(now),
        window_start,
        window_end,
        delta_column,
    })
}

/// Records the run under the flow's next window number. Window 1 of a `once` flow is its
/// scheduled run; if that is not recorded yet it is recorded first, so that the
/// scheduler, which plans from the highest window number, does not lose it.
async fn insert(state: &AppState, caller: &Caller, flow: &Flow, asked: &OnDemand) -> Result<RunRow, ApiError> {
    for _ in 0..INSERT_ATTEMPTS {
        let last = state.store.last_window(&flow.id).await?;
        let now_ms = now_millis();
        if last == 0 {
            let first = flow.schedule.window(1);
            let due = flow.schedule.due_at(&first, 0);
            state
                .store
                .insert_run(&new_run(&caller.tenant, &flow.id, &first, due, now_ms))
                .await?;
            continue;
        }
        let window = Window {
            number: last + 1,
            start: Some(asked.window_start),
            end: Some(asked.window_end),
        };
        let mut run = new_run(&caller.tenant, &flow.id, &window, asked.start, now_ms);
        run.doc["params"] = json!({
            "startTime": asked.start,
            "windowStartTime": asked.window_start,
            "windowEndTime": asked.window_end,
            "deltaColumn": asked.delta_column.as_ref().map(|d| json!({"name": d.name, "timezone": d.timezone})),
        });
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
