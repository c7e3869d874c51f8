//! `/data/foundation/catalog`: datasets and batches (§10), in Catalog's shapes: answers
//! are objects keyed by id, creation answers `["@/dataSets/<id>"]`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::catalog_query::{CatalogQuery, keyed};
use super::error::{ApiError, json_response};
use super::resource::{FLOW, TARGET_CONNECTION};
use crate::catalog::{self, CatalogError, DatasetInput};
use crate::identity::Caller;
use crate::state::AppState;
use crate::store::{FieldFilter, FieldTest, Page, SortBy};

/// The Catalog routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_dataset, list_datasets))
        .routes(routes!(get_dataset, delete_dataset))
        .routes(routes!(dataset_versions))
        .routes(routes!(list_batches))
        .routes(routes!(get_batch))
        .merge(super::dataset_maintenance::routes())
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> ApiError {
        match error {
            CatalogError::Invalid(violations) => ApiError::invalid("The dataset is not valid", violations),
            CatalogError::DatasetNotFound(id) => ApiError::not_found("Dataset", &id),
            CatalogError::BatchNotFound(id) => ApiError::not_found("Batch", &id),
            CatalogError::Store(error) => ApiError::internal(error),
        }
    }
}

/// The dataset as shown: the stored document with the table's current location.
fn shown(state: &AppState, mut dataset: Value) -> Value {
    let id = dataset["id"].as_str().unwrap_or_default().to_string();
    dataset["location"] = json!(state.lake.table_location(&id));
    dataset
}

#[utoipa::path(post, path = "/dataSets", tag = "Catalog", request_body = crate::api::schema::requests::CreateDataset,
    responses((status = 201, description = "`[\"@/dataSets/<id>\"]`", body = Vec<String>)))]
async fn create_dataset(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let input = DatasetInput::from_body(&body)?;
    let id = catalog::create_dataset(&state.store, &caller, &input).await?;
    Ok(json_response(StatusCode::CREATED, &json!([format!("@/dataSets/{id}")])))
}

#[utoipa::path(get, path = "/dataSets", tag = "Catalog", params(crate::api::schema::CatalogListParams,
        ("name" = Option<String>, Query, description = "name=a,b or name=!a,b"), ("createdClient" = Option<String>, Query)),
    responses((status = 200, description = "Datasets keyed by id", body = std::collections::HashMap<String, crate::api::schema::catalog::DatasetItem>)))]
async fn list_datasets(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = CatalogQuery::parse(
        query.as_deref(),
        &[("name", "name"), ("createdClient", "createdClient")],
    )?;
    let datasets = state
        .store
        .list_offset(catalog::DATASET, &caller.tenant, &query.page())
        .await?;
    let shown: Vec<Value> = datasets.into_iter().map(|d| shown(&state, d.doc)).collect();
    Ok(keyed(&shown))
}

#[utoipa::path(get, path = "/dataSets/{id}", tag = "Catalog", params(("id" = String, Path)),
    responses((status = 200, description = "`{<id>: dataset}`", body = std::collections::HashMap<String, crate::api::schema::catalog::DatasetItem>)))]
async fn get_dataset(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let dataset = catalog::get_dataset(&state.store, &caller.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Dataset", &id))?;
    let dataset = super::dataset_maintenance::with_health(&state, shown(&state, dataset)).await?;
    Ok(keyed(&[dataset]))
}

/// How many of a table's newest versions `GET /dataSets/{id}/versions` lists.
const VERSIONS_SHOWN: usize = 50;

#[utoipa::path(get, path = "/dataSets/{id}/versions", tag = "Catalog", params(("id" = String, Path)),
    responses((status = 200, description = "Inlet: the Delta table's location, size and newest versions", body = Object)))]
async fn dataset_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    catalog::get_dataset(&state.store, &caller.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Dataset", &id))?;
    let history = state
        .lake
        .history(&id, VERSIONS_SHOWN)
        .await
        .map_err(ApiError::internal)?;
    let mut body = match history {
        Some(history) => json!(history),
        None => json!({"currentVersion": null, "rows": 0, "files": 0, "bytes": 0, "versions": []}),
    };
    body["location"] = json!(state.lake.table_location(&id));
    Ok(json_response(StatusCode::OK, &body))
}

#[utoipa::path(delete, path = "/dataSets/{id}", tag = "Catalog", params(("id" = String, Path)),
    responses((status = 200, description = "`[\"@/dataSets/<id>\"]`; the Delta table stays", body = Vec<String>)))]
async fn delete_dataset(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if let Some((flow, target)) = writer_of(&state, &caller, &id).await? {
        return Err(ApiError::bad_request(
            "1418",
            format!("dataset {id} is used by flow {flow} (through its target connection {target}); delete that first"),
        ));
    }
    if !catalog::delete_dataset(&state.store, &caller.tenant, &id).await? {
        return Err(ApiError::not_found("Dataset", &id));
    }
    Ok(json_response(StatusCode::OK, &json!([format!("@/dataSets/{id}")])))
}

/// A flow writing into dataset `id` and its target connection, if any: deleting the
/// dataset under it would leave the flow writing into a dataset nobody can see.
async fn writer_of(state: &AppState, caller: &Caller, id: &str) -> Result<Option<(String, String)>, ApiError> {
    let page = |path: &str, ids: Vec<String>, rows| Page {
        filters: vec![FieldFilter {
            path: path.to_string(),
            test: FieldTest::AnyOf(ids),
        }],
        sort: SortBy::CreatedAt,
        descending: false,
        after: None,
        rows,
    };
    let targets = state
        .store
        .list_page(
            TARGET_CONNECTION.store,
            &caller.tenant,
            &page("params.dataSetId", vec![id.to_string()], 1000),
        )
        .await?;
    if targets.is_empty() {
        return Ok(None);
    }
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let flows = state
        .store
        .list_page(FLOW.store, &caller.tenant, &page("targetConnectionIds", ids, 1))
        .await?;
    Ok(flows.into_iter().next().map(|flow| {
        let target = flow.doc["targetConnectionIds"][0]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (flow.id, target)
    }))
}

#[utoipa::path(get, path = "/batches", tag = "Catalog", params(crate::api::schema::CatalogListParams,
        ("dataSet" = Option<String>, Query), ("status" = Option<String>, Query), ("flowId" = Option<String>, Query)),
    responses((status = 200, description = "Batches keyed by id", body = std::collections::HashMap<String, crate::api::schema::catalog::BatchItem>)))]
async fn list_batches(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = CatalogQuery::parse(
        query.as_deref(),
        &[
            ("dataSet", "relatedObjects.id"),
            ("status", "status"),
            ("flowId", "flowId"),
        ],
    )?;
    let batches = state
        .store
        .list_offset(catalog::BATCH, &caller.tenant, &query.page())
        .await?;
    Ok(keyed(&batches.into_iter().map(|b| b.doc).collect::<Vec<_>>()))
}

#[utoipa::path(get, path = "/batches/{id}", tag = "Catalog", params(("id" = String, Path)),
    responses((status = 200, description = "`{<id>: batch}`", body = std::collections::HashMap<String, crate::api::schema::catalog::BatchItem>)))]
async fn get_batch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let batch = catalog::get_batch(&state.store, &caller.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Batch", &id))?;
    Ok(keyed(&[batch]))
}
