//! `/targetConnections` (§8): a dataset of the lake to write, of the caller's org and
//! sandbox, through the data lake spec.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::ApiError;
use super::fields::Fields;
use super::resource::{
    DATASET, TARGET_CONNECTION, create, delete_unless_a_flow_uses, find, find_for_patch, list, merge, one, patch,
    replace,
};
use super::schema::items::{DataFormat, SpecRef, TargetConnectionBody, TargetParams};
use crate::identity::Caller;
use crate::specs::DATALAKE_SPEC_ID;
use crate::state::AppState;

/// The formats a target connection accepts; all mean a Delta Lake table.
/// Every data lake format the platform documents, and `delta`: each means a Delta Lake
/// table here.
const FORMATS: [&str; 6] = ["delta", "parquet", "parquet_xdm", "delimited", "json", "tabular"];

/// The target connection routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_target_connection, list_target_connections))
        .routes(routes!(
            get_target_connection,
            patch_target_connection,
            delete_target_connection
        ))
}

#[utoipa::path(post, path = "/targetConnections", tag = "Target connections", request_body = crate::api::schema::requests::CreateTargetConnection,
    responses((status = 201, description = "Created", body = crate::api::schema::Created)))]
async fn create_target_connection(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let doc = checked(&state, &caller, &body).await?;
    create(&state, &caller, TARGET_CONNECTION, document(&doc)).await
}

#[utoipa::path(get, path = "/targetConnections", tag = "Target connections", params(crate::api::schema::ListParams),
    responses((status = 200, description = "A page, or `{count}`", body = crate::api::schema::ListAnswer<crate::api::schema::items::TargetConnectionItem>)))]
async fn list_target_connections(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    list(
        &state,
        &caller,
        TARGET_CONNECTION,
        query.as_deref(),
        "/targetConnections",
    )
    .await
}

#[utoipa::path(get, path = "/targetConnections/{id}", tag = "Target connections", params(("id" = String, Path)),
    responses((status = 200, description = "The item", body = crate::api::schema::One<crate::api::schema::items::TargetConnectionItem>)))]
async fn get_target_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one(find(&state, &caller, TARGET_CONNECTION, &id).await?.doc))
}

#[utoipa::path(patch, path = "/targetConnections/{id}", tag = "Target connections", params(("id" = String, Path), ("If-Match" = String, Header, description = "The etag the change is based on")),
    request_body = Vec<crate::api::schema::requests::PatchOperation>,
    responses((status = 200, description = "Changed", body = crate::api::schema::Created)))]
async fn patch_target_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(ops): JsonBody,
) -> Result<Response, ApiError> {
    let row = find_for_patch(&state, &caller, TARGET_CONNECTION, &id, &headers).await?;
    let view = patch(&row.doc, &ops, &["/name", "/description", "/data", "/params"])?;
    let mut doc = row.doc.clone();
    merge(&mut doc, document(&checked(&state, &caller, &view).await?));
    replace(&state, &caller, TARGET_CONNECTION, &row, doc).await
}

#[utoipa::path(delete, path = "/targetConnections/{id}", tag = "Target connections", params(("id" = String, Path)), responses((status = 204, description = "Deleted")))]
async fn delete_target_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    delete_unless_a_flow_uses(&state, &caller, TARGET_CONNECTION, &id, "targetConnectionIds").await
}

/// The user-editable part of a target connection's item, from a create body or a
/// patched item, after every check.
async fn checked(state: &AppState, caller: &Caller, body: &Value) -> Result<TargetConnectionBody, ApiError> {
    let mut fields = Fields::new(body);
    let name = fields.name("/name");
    let description = fields.description("/description");
    fields.objects(&["/connectionSpec", "/data", "/params"]);
    let spec_id = fields.required("/connectionSpec/id");
    let spec_version = fields.optional("/connectionSpec/version");
    let format = fields.one_of("/data/format", &FORMATS, "delta");
    let dataset_id = fields.required("/params/dataSetId");
    fields.finish("The target connection is not valid")?;
    if spec_id != DATALAKE_SPEC_ID {
        return Err(ApiError::bad_request(
            "1307",
            format!(
                "connectionSpec.id {spec_id} is not a target spec; the only target is the data lake, {DATALAKE_SPEC_ID}"
            ),
        ));
    }
    if state
        .store
        .get_resource(DATASET.store, &caller.tenant, &dataset_id)
        .await?
        .is_none()
    {
        return Err(ApiError::bad_request(
            "1308",
            format!(
                "params.dataSetId: dataset {dataset_id} was not found in organization {} sandbox {}",
                caller.tenant.org, caller.tenant.sandbox
            ),
        ));
    }
    Ok(TargetConnectionBody {
        name,
        description,
        state: "enabled".into(),
        data: DataFormat {
            format,
            schema: body.pointer("/data/schema").filter(|s| !s.is_null()).cloned(),
        },
        params: TargetParams {
            data_set_id: dataset_id,
        },
        connection_spec: SpecRef {
            id: spec_id,
            version: if spec_version.is_empty() {
                "1.0".into()
            } else {
                spec_version
            },
        },
    })
}

/// A checked body as the document the store keeps.
fn document(body: &TargetConnectionBody) -> Value {
    serde_json::to_value(body).expect("a target connection serialises")
}
