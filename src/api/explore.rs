//! `/connections/{id}/test` and `/connections/{id}/explore` (§6, §7): talking to the
//! database a base connection describes.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, json_response};
use super::resource::{CONNECTION, find};
use crate::connections::rate::RateLimiter;
use crate::connections::{self, ConnectionError};
use crate::identity::Caller;
use crate::sources::config::SourceConfig;
use crate::sources::source::{Source, open};
use crate::sources::{SourceError, SourceErrorKind, TableRef, schema};
use crate::state::AppState;
use crate::store::ResourceRow;

const DEFAULT_PREVIEW_ROWS: usize = 10;
const MAX_PREVIEW_ROWS: usize = 100;

/// The test and explore routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test_connection))
        .routes(routes!(explore_connection))
        .layer(Extension(Arc::new(RateLimiter::new())))
}

/// Counts a test or explore against the caller's org (`1429-429` over the limit).
fn admit(state: &AppState, limiter: &RateLimiter, caller: &Caller) -> Result<(), ApiError> {
    let limit = state.config.source_checks;
    limiter.take(&caller.tenant.org, limit).map_err(|wait| {
        ApiError::flow(
            StatusCode::TOO_MANY_REQUESTS,
            "1429",
            format!(
                "This organization may run {} connection tests and explores a minute (at most {} at once); \
                 retry in {} s",
                limit.per_minute,
                limit.burst,
                wait.as_secs().max(1)
            ),
        )
    })
}

impl From<SourceError> for ApiError {
    fn from(error: SourceError) -> ApiError {
        use SourceErrorKind::*;
        match error.kind {
            TableNotFound => ApiError::flow(StatusCode::NOT_FOUND, "1101", error.message),
            HostNotFound | ConnectionRefused | TimedOut | ConnectionLost | QueryFailed => {
                ApiError::flow(StatusCode::BAD_GATEWAY, "1352", error.to_string())
            }
            _ => ApiError::bad_request("1351", error.to_string()),
        }
    }
}

/// The source the caller's connection `id` describes (`1101-404` when there is none).
pub async fn source_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Box<dyn Source>, SourceConfig), ApiError> {
    let row = find(state, caller, CONNECTION, id).await?;
    open_source(state, &row)
}

/// The source a stored base connection describes, with its parsed configuration.
pub fn open_source(state: &AppState, row: &ResourceRow) -> Result<(Box<dyn Source>, SourceConfig), ApiError> {
    let config = connections::source_config(&state.cipher, &state.specs, row).map_err(|error| match error {
        ConnectionError::NotASource(_) => ApiError::bad_request(
            "1336",
            format!(
                "Connection {} is not a source connection; explore is not supported",
                row.id
            ),
        ),
        ConnectionError::Invalid(violations) => {
            ApiError::invalid("The stored connection parameters are not valid", violations)
        }
        other => other.into(),
    })?;
    Ok((open(config.clone(), state.config.source_options()), config))
}

#[utoipa::path(get, path = "/connections/{id}/test", tag = "Connections", params(("id" = String, Path)),
    responses((status = 200, description = "`{result: true}`, or `{result: false, error}` classified", body = crate::api::schema::items::TestAnswer)))]
async fn test_connection(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<RateLimiter>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admit(&state, &limiter, &caller)?;
    let (source, _) = source_of(&state, &caller, &id).await?;
    let answer = match source.test().await {
        Ok(()) => json!({"result": true}),
        Err(error) => {
            tracing::info!(connection = %id, code = error.kind.code(), "connection test failed");
            json!({"result": false, "error": {"code": error.kind.code(), "message": error.message}})
        }
    };
    Ok(json_response(StatusCode::OK, &answer))
}

/// Explore's query parameters.
#[derive(Deserialize)]
struct ExploreQuery {
    #[serde(rename = "objectType")]
    object_type: Option<String>,
    object: Option<String>,
    preview: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/connections/{id}/explore", tag = "Connections",
    params(("id" = String, Path), ("objectType" = String, Query, description = "root or table, any case"),
        ("object" = Option<String>, Query, description = "schema.table, for objectType=table"),
        ("preview" = Option<bool>, Query, description = "with the first rows"),
        ("limit" = Option<u32>, Query, description = "rows previewed, 1 to 100 (10)")),
    responses((status = 200, description = "root: the tables; table: its columns (and rows)", body = crate::api::schema::items::ExploreAnswer)))]
async fn explore_connection(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<RateLimiter>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ExploreQuery>,
) -> Result<Response, ApiError> {
    admit(&state, &limiter, &caller)?;
    let object_type = query.object_type.as_deref().unwrap_or_default().to_ascii_lowercase();
    if object_type != "root" && object_type != "table" {
        return Err(ApiError::bad_request(
            "1358",
            "objectType must be `root` (list tables) or `table` (describe one)",
        ));
    }
    let object = query.object.as_deref().map(str::trim).filter(|o| !o.is_empty());
    if object_type == "table" && object.is_none() {
        return Err(ApiError::bad_request(
            "1337",
            "objectType=table needs `object`, the table as schema.table",
        ));
    }
    let limit = preview_limit(&query)?;
    let (source, config) = source_of(&state, &caller, &id).await?;
    let Some(object) = object.filter(|_| object_type == "table") else {
        let tables = source.list_tables().await?;
        return Ok(json_response(
            StatusCode::OK,
            &tables.iter().map(schema::entry_json).collect::<Vec<_>>(),
        ));
    };
    let default_schema = config.schema.as_deref().unwrap_or("public");
    let table = TableRef::parse(object, default_schema)
        .map_err(|e| ApiError::flow(StatusCode::NOT_FOUND, "1101", format!("Table {e}")))?;
    let (described, rows) = match limit {
        Some(limit) => {
            let (described, rows) = source.preview(&table, limit).await?;
            (described, Some(rows))
        }
        None => (source.describe(&table).await?, None),
    };
    let columns: Vec<Value> = described.columns.iter().map(schema::column_json).collect();
    let mut answer = json!({"format": "flat", "schema": {"columns": columns}});
    if let Some(rows) = rows {
        answer["data"] = json!(rows);
    }
    Ok(json_response(StatusCode::OK, &answer))
}

/// `Some(rows)` when a preview was asked for.
fn preview_limit(query: &ExploreQuery) -> Result<Option<usize>, ApiError> {
    if !query.preview.as_deref().is_some_and(|p| p.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    match query.limit.as_deref().map(str::parse::<usize>) {
        None => Ok(Some(DEFAULT_PREVIEW_ROWS)),
        Some(Ok(limit)) if (1..=MAX_PREVIEW_ROWS).contains(&limit) => Ok(Some(limit)),
        Some(_) => Err(ApiError::bad_request(
            "1402",
            format!("`limit` must be a whole number from 1 to {MAX_PREVIEW_ROWS}"),
        )),
    }
}
