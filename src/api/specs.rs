//! `/connectionSpecs` and `/flowSpecs`: the catalog of what Inlet connects to (§5, §9).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, json_response};
use crate::identity::Caller;
use crate::state::AppState;

/// The spec routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connection_specs))
        .routes(routes!(get_connection_spec))
        .routes(routes!(list_flow_specs))
        .routes(routes!(get_flow_spec))
}

#[utoipa::path(get, path = "/connectionSpecs", tag = "Specs", responses((status = 200, description = "The connection specs", body = crate::api::schema::One<crate::api::schema::items::SpecItem>)))]
async fn list_connection_specs(State(state): State<AppState>, _caller: Caller) -> Response {
    let items: Vec<_> = state.specs.connection_specs().iter().map(|s| s.document()).collect();
    json_response(StatusCode::OK, &json!({ "items": items }))
}

#[utoipa::path(get, path = "/connectionSpecs/{id}", tag = "Specs", params(("id" = String, Path)), responses((status = 200, description = "The spec", body = crate::api::schema::One<crate::api::schema::items::SpecItem>)))]
async fn get_connection_spec(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let spec = state
        .specs
        .connection_spec(&id)
        .ok_or_else(|| ApiError::not_found("Connection spec", &id))?;
    Ok(json_response(StatusCode::OK, &json!({ "items": [spec.document()] })))
}

#[utoipa::path(get, path = "/flowSpecs", tag = "Specs", responses((status = 200, description = "The flow specs", body = crate::api::schema::One<crate::api::schema::items::SpecItem>)))]
async fn list_flow_specs(State(state): State<AppState>, _caller: Caller) -> Response {
    json_response(StatusCode::OK, &json!({ "items": state.specs.flow_specs() }))
}

#[utoipa::path(get, path = "/flowSpecs/{id}", tag = "Specs", params(("id" = String, Path)), responses((status = 200, description = "The flow spec", body = crate::api::schema::One<crate::api::schema::items::SpecItem>)))]
async fn get_flow_spec(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let spec = state
        .specs
        .flow_specs()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .ok_or_else(|| ApiError::not_found("Flow spec", &id))?;
    Ok(json_response(StatusCode::OK, &json!({ "items": [spec] })))
}
