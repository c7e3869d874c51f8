//! Inlet's extension to the Catalog's datasets: a table's health in the dataset item
//! (`inletHealth`), and `POST /dataSets/{id}/action?op=maintain`, which runs one
//! maintenance pass on the dataset's table now (docs/api.md, docs/lake.md).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, json_response};
use crate::catalog;
use crate::flows::maintenance::{MaintainError, shown_health};
use crate::identity::Caller;
use crate::state::AppState;

/// The longest an on-demand pass waits for a pass already holding the dataset.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// The routes of the extension.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dataset_action))
}

/// `POST /dataSets/{id}/action`'s query.
#[derive(Deserialize)]
struct ActionQuery {
    op: Option<String>,
}

/// What a dataset action is asked to do.
#[derive(Debug, PartialEq, Eq)]
enum DatasetOp {
    Maintain,
}

impl DatasetOp {
    fn parse(op: Option<&str>) -> Result<DatasetOp, ApiError> {
        match op.map(str::to_ascii_lowercase).as_deref() {
            Some("maintain") => Ok(DatasetOp::Maintain),
            _ => Err(ApiError::bad_request("1407", "`op` must be maintain")),
        }
    }
}

#[utoipa::path(post, path = "/dataSets/{id}/action", tag = "Catalog",
    params(("id" = String, Path), ("op" = String, Query, description = "Inlet: maintain (compact small files, checkpoint, vacuum now); any case")),
    responses((status = 200, description = "Inlet: what the pass did (`maintenance`) and the table's health after it (`inletHealth`, null before the first write)", body = Object),
        (status = 400, description = "`op` is not maintain"),
        (status = 409, description = "Another pass held the dataset for longer than the wait (the run lease, at most 15 s)")))]
async fn dataset_action(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ActionQuery>,
) -> Result<Response, ApiError> {
    let DatasetOp::Maintain = DatasetOp::parse(query.op.as_deref())?;
    catalog::get_dataset(&state.store, &caller.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Dataset", &id))?;
    let maintainer = state.maintainer();
    // A pass already running (or a dead holder's lease) ends within a lease; waiting
    // that long, capped, spares the caller a retry.
    let patience = maintainer.lease.min(MAX_WAIT);
    let done = match maintainer.maintain_when_free(&id, patience).await {
        Ok(done) => done,
        Err(MaintainError::Busy) => {
            return Err(ApiError::flow(
                StatusCode::CONFLICT,
                "1408",
                format!("dataset {id} is being maintained by another process; try again later"),
            ));
        }
        Err(error) => return Err(ApiError::internal(error)),
    };
    let health = maintainer.health(&id).await.map_err(ApiError::internal)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": id, "maintenance": done, "inletHealth": health}),
    ))
}

/// The dataset item with `inletHealth` (null before the table's first write).
pub async fn with_health(state: &AppState, mut dataset: Value) -> Result<Value, ApiError> {
    let id = dataset["id"].as_str().unwrap_or_default().to_string();
    let small = state.config.maintenance.policy.small_file_bytes;
    let health = state.lake.health(&id, small).await.map_err(ApiError::internal)?;
    let last = state.store.last_maintenance(&id).await?;
    dataset["inletHealth"] = match health {
        Some(health) => shown_health(&health, last.as_ref()),
        None => Value::Null,
    };
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_maintain_is_an_op() {
        assert_eq!(DatasetOp::parse(Some("Maintain")).unwrap(), DatasetOp::Maintain);
        assert!(DatasetOp::parse(Some("optimize")).is_err());
        assert!(DatasetOp::parse(None).is_err());
    }
}
