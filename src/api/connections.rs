//! `/connections`: base connections (§6).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::{ApiError, json_response};
use super::resource::{
    CONNECTION, FLOW, SOURCE_CONNECTION, find, find_for_patch, first_user, in_use, list, one, stale,
};
use crate::connections::{self, ConnectionError, ConnectionInput, KIND, destination};
use crate::identity::Caller;
use crate::state::AppState;
use crate::store::{ResourceRow, Update, new_etag, now_millis};

/// The connection routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_connection, list_connections))
        .routes(routes!(get_connection, patch_connection, delete_connection))
}

impl From<ConnectionError> for ApiError {
    fn from(error: ConnectionError) -> ApiError {
        match error {
            ConnectionError::Invalid(violations) => ApiError::invalid("The connection is not valid", violations),
            ConnectionError::UnknownSpec(id) => ApiError::bad_request(
                "1413",
                format!("No connection spec has id `{id}`; GET /connectionSpecs lists them"),
            ),
            ConnectionError::UnknownAuthSpec { spec, name, allowed } => ApiError::bad_request(
                "1415",
                format!(
                    "Connection spec `{spec}` has no auth spec named `{name}`; allowed: {}",
                    allowed.join(", ")
                ),
            ),
            ConnectionError::NotASource(id) => ApiError::bad_request(
                "1413",
                format!("Connection spec `{id}` is a target spec; base connections are made for source specs"),
            ),
            ConnectionError::SpecChange => ApiError::bad_request(
                "1414",
                "The connectionSpec of a connection cannot change; create a new connection instead",
            ),
            ConnectionError::BadPatch(message) => ApiError::bad_request("1405", message),
            ConnectionError::Sealed(e) => ApiError::internal(e),
            ConnectionError::SecretsRequired(violations) => {
                ApiError::invalid("Secrets must be entered again", violations)
            }
        }
    }
}

#[utoipa::path(post, path = "/connections", tag = "Connections", request_body = crate::api::schema::requests::CreateConnection,
    responses((status = 201, description = "Created", body = crate::api::schema::Created)))]
async fn create_connection(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let input = ConnectionInput::from_body(&body)?;
    let (input, auth) = input.checked(&state.specs)?;
    let config = destination::config_of(&state.specs, &input)?;
    destination::check_allowed(&config, &input.auth_spec, &state.config.source_options()).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let (masked, sealed) = connections::seal_params(
        &state.cipher,
        auth,
        &input.params,
        &connections::record_binding(&caller.tenant, &id),
    );
    let etag = new_etag();
    let now = now_millis();
    let doc = connections::document(&id, &caller, &input, &masked, &etag, now, &caller.tenant.sandbox_id());
    let row = ResourceRow {
        kind: KIND.into(),
        id: id.clone(),
        tenant: caller.tenant.clone(),
        etag: etag.clone(),
        created_at: now,
        updated_at: now,
        doc,
        secret: sealed,
    };
    state.store.insert_resource(&row).await?;
    tracing::info!(connection = %id, spec = %input.spec_id, "connection created");
    Ok(json_response(StatusCode::CREATED, &json!({"id": id, "etag": etag})))
}

#[utoipa::path(get, path = "/connections", tag = "Connections", params(crate::api::schema::ListParams),
    responses((status = 200, description = "A page of connections, or `{count}`", body = crate::api::schema::ListAnswer<crate::api::schema::items::ConnectionItem>)))]
async fn list_connections(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    list(&state, &caller, CONNECTION, query.as_deref(), "/connections").await
}

#[utoipa::path(get, path = "/connections/{id}", tag = "Connections", params(("id" = String, Path)),
    responses((status = 200, description = "The connection", body = crate::api::schema::One<crate::api::schema::items::ConnectionItem>)))]
async fn get_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&state, &caller, CONNECTION, &id).await?;
    Ok(one(row.doc))
}

#[utoipa::path(patch, path = "/connections/{id}", tag = "Connections", params(("id" = String, Path), ("If-Match" = String, Header, description = "The etag the change is based on")),
    request_body = Vec<crate::api::schema::requests::PatchOperation>,
    responses((status = 200, description = "Changed", body = crate::api::schema::Created)))]
async fn patch_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(ops): JsonBody,
) -> Result<Response, ApiError> {
    let row = find_for_patch(&state, &caller, CONNECTION, &id, &headers).await?;
    let binding = connections::record_binding(&caller.tenant, &id);
    let current = connections::stored_input(&state.cipher, &row)?;
    let masked_now = row.doc.pointer("/auth/params").cloned().unwrap_or(Value::Null);
    let patched = connections::apply_patch(&current, &masked_now, &ops)?;
    super::body::within_bounds(&patched.input.params)?;
    let (input, auth) = patched.input.checked(&state.specs)?;
    let config = destination::config_of(&state.specs, &input)?;
    let secrets = auth.secret_fields();
    let kept: Vec<String> = patched
        .kept
        .into_iter()
        .filter(|f| secrets.contains(&f.as_str()))
        .collect();
    let old = destination::config_of(&state.specs, &current).ok();
    destination::check_redirect(old.as_ref(), &config, &kept)?;
    destination::check_allowed(&config, &input.auth_spec, &state.config.source_options()).await?;
    let (masked, sealed) = connections::seal_params(&state.cipher, auth, &input.params, &binding);
    let etag = new_etag();
    let now = now_millis();
    let mut doc = connections::document(&id, &caller, &input, &masked, &etag, now, &caller.tenant.sandbox_id());
    for kept in ["createdAt", "createdBy", "createdClient"] {
        doc[kept] = row.doc[kept].clone();
    }
    let updated = ResourceRow {
        etag: etag.clone(),
        updated_at: now,
        doc,
        secret: sealed,
        ..row.clone()
    };
    match state.store.update_resource(&updated, &row.etag).await? {
        Update::Done => Ok(json_response(StatusCode::OK, &json!({"id": id, "etag": etag}))),
        Update::Stale => Err(stale(CONNECTION, &id)),
        Update::NotFound => Err(ApiError::not_found(CONNECTION.noun, &id)),
    }
}

#[utoipa::path(delete, path = "/connections/{id}", tag = "Connections", params(("id" = String, Path)), responses((status = 204, description = "Deleted")))]
async fn delete_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    find(&state, &caller, CONNECTION, &id).await?;
    if let Some(user) = user_of(&state, &caller, &id).await? {
        return Err(in_use(CONNECTION, &id, &user));
    }
    if !state.store.delete_resource(KIND, &caller.tenant, &id).await? {
        return Err(ApiError::not_found(CONNECTION.noun, &id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What keeps base connection `id` from being deleted: a flow reading through one of its
/// source connections, else a source connection of it.
async fn user_of(state: &AppState, caller: &Caller, id: &str) -> Result<Option<String>, ApiError> {
    let through = "inheritedAttributes.sourceConnections.baseConnection.id";
    if let Some(flow) = first_user(state, caller, FLOW, through, id).await? {
        return Ok(Some(format!("flow {flow} (through its source connection)")));
    }
    Ok(first_user(state, caller, SOURCE_CONNECTION, "baseConnectionId", id)
        .await?
        .map(|source| format!("source connection {source}")))
}
