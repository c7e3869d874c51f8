//! `/sandboxes` (sandbox management): `prod` always exists; others are created and
//! deleted here, and only an empty sandbox can be deleted.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::OrgCaller;
use super::body::JsonBody;
use super::error::{ApiError, json_response};
use crate::identity::{DEFAULT_SANDBOX, Tenant, sandbox_id};
use crate::specs::Violation;
use crate::state::AppState;
use crate::store::{SandboxRow, StoreError, now_millis};

const MAX_NAME_LEN: usize = 64;

/// The sandbox routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sandboxes, create_sandbox))
        .routes(routes!(get_sandbox, delete_sandbox))
}

#[utoipa::path(get, path = "/sandboxes", tag = "Sandboxes", responses((status = 200, description = "The org's sandboxes", body = crate::api::schema::items::SandboxList)))]
async fn list_sandboxes(State(state): State<AppState>, caller: OrgCaller) -> Result<Response, ApiError> {
    let mut sandboxes = vec![prod(&caller.org)];
    sandboxes.extend(state.store.list_sandboxes(&caller.org).await?.iter().map(item));
    Ok(json_response(
        StatusCode::OK,
        &json!({ "sandboxes": sandboxes, "_page": {"count": sandboxes.len()} }),
    ))
}

#[utoipa::path(post, path = "/sandboxes", tag = "Sandboxes", request_body = crate::api::schema::requests::CreateSandbox, responses((status = 201, description = "The new sandbox", body = crate::api::schema::items::SandboxItem)))]
async fn create_sandbox(
    State(state): State<AppState>,
    caller: OrgCaller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let name = body["name"].as_str().unwrap_or_default().to_string();
    check_name(&name)?;
    if name == DEFAULT_SANDBOX {
        // `prod` always exists and is not a row: a second one could never be deleted.
        return Err(exists(&name));
    }
    let sandbox_type = body["type"].as_str().unwrap_or("development");
    if sandbox_type != "development" {
        return Err(invalid(
            "/type",
            "must be `development`: each org has exactly one production sandbox, `prod`",
        ));
    }
    let title = match &body["title"] {
        Value::String(title) if title.chars().count() > crate::bounds::MAX_NAME => {
            return Err(invalid("/title", "must have at most 256 characters"));
        }
        Value::String(title) if !title.trim().is_empty() => title.clone(),
        Value::Null => name.clone(),
        _ => return Err(invalid("/title", "must be a non-empty string")),
    };
    let row = SandboxRow {
        org: caller.org.clone(),
        id: sandbox_id(&caller.org, &name),
        name,
        title,
        sandbox_type: sandbox_type.to_string(),
        created_by: caller.subject.clone(),
        created_at: now_millis(),
    };
    match state.store.insert_sandbox(&row).await {
        Ok(()) => Ok(json_response(StatusCode::CREATED, &item(&row))),
        Err(StoreError::Conflict) => Err(exists(&row.name)),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/sandboxes/{name}", tag = "Sandboxes", params(("name" = String, Path)), responses((status = 200, description = "The sandbox", body = crate::api::schema::items::SandboxItem)))]
async fn get_sandbox(
    State(state): State<AppState>,
    caller: OrgCaller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if name == DEFAULT_SANDBOX {
        return Ok(json_response(StatusCode::OK, &prod(&caller.org)));
    }
    let row = state
        .store
        .get_sandbox(&caller.org, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(json_response(StatusCode::OK, &item(&row)))
}

#[utoipa::path(delete, path = "/sandboxes/{name}", tag = "Sandboxes", params(("name" = String, Path)), responses((status = 204, description = "Deleted")))]
async fn delete_sandbox(
    State(state): State<AppState>,
    caller: OrgCaller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if name == DEFAULT_SANDBOX {
        return Err(ApiError::bad_request("2104", "The `prod` sandbox cannot be deleted"));
    }
    match state.store.delete_empty_sandbox(&caller.org, &name).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT.into_response()),
        Ok(false) => Err(not_found(&name)),
        Err(StoreError::Conflict) => {
            let tenant = Tenant {
                org: caller.org,
                sandbox: name.clone(),
            };
            let count = state.store.count_resources(&tenant).await?;
            Err(ApiError::flow(
                StatusCode::CONFLICT,
                "2103",
                format!("Sandbox `{name}` still holds {count} resources; delete them first"),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(invalid(
            "/name",
            &format!("is required: 1 to {MAX_NAME_LEN} lowercase letters, digits and hyphens, starting with a letter"),
        ))
    }
}

fn invalid(path: &str, message: &str) -> ApiError {
    ApiError::invalid(
        "The sandbox is not valid",
        vec![Violation {
            path: path.into(),
            message: message.into(),
        }],
    )
}

fn exists(name: &str) -> ApiError {
    ApiError::flow(StatusCode::CONFLICT, "2101", format!("Sandbox `{name}` already exists"))
}

fn not_found(name: &str) -> ApiError {
    ApiError::flow(
        StatusCode::NOT_FOUND,
        "2100",
        format!("Sandbox `{name}` was not found in this organization"),
    )
}

fn prod(org: &str) -> Value {
    json!({"id": sandbox_id(org, DEFAULT_SANDBOX), "name": DEFAULT_SANDBOX, "title": "Production", "type": "production", "isDefault": true, "state": "active"})
}

fn item(row: &SandboxRow) -> Value {
    json!({
        "id": row.id, "name": row.name, "title": row.title, "type": row.sandbox_type,
        "isDefault": false, "state": "active", "createdDate": row.created_at, "createdBy": row.created_by,
    })
}
