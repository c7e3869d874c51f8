//! `/sourceConnections` (§8): a table of a base connection's database, checked for real
//! (the table is described through the base connection) when created or patched.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::ApiError;
use super::explore::open_source;
use super::fields::Fields;
use super::resource::{
    CONNECTION, FLOW, SOURCE_CONNECTION, create, delete_unless_a_flow_uses, find, find_for_patch, first_user, list,
    merge, one, patch, referenced, replace,
};
use super::schema::items::{
    BaseRef, ColumnName, DataFormat, SourceConnectionBody, SourceInherited, SourceParams, SpecRef,
};
use crate::flows::model::{column_names, column_types_given};
use crate::identity::Caller;
use crate::sources::schema::{TableSchema, object_path};
use crate::sources::source::Source;
use crate::sources::{SourceError, SourceErrorKind, TableRef, schema};
use crate::specs::Violation;
use crate::state::AppState;

/// The source connection routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_source_connection, list_source_connections))
        .routes(routes!(
            get_source_connection,
            patch_source_connection,
            delete_source_connection
        ))
}

#[utoipa::path(post, path = "/sourceConnections", tag = "Source connections", request_body = crate::api::schema::requests::CreateSourceConnection,
    responses((status = 201, description = "Created", body = crate::api::schema::Created)))]
async fn create_source_connection(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let doc = checked(&state, &caller, &body).await?;
    create(&state, &caller, SOURCE_CONNECTION, document(&doc)).await
}

#[utoipa::path(get, path = "/sourceConnections", tag = "Source connections", params(crate::api::schema::ListParams),
    responses((status = 200, description = "A page, or `{count}`", body = crate::api::schema::ListAnswer<crate::api::schema::items::SourceConnectionItem>)))]
async fn list_source_connections(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    list(
        &state,
        &caller,
        SOURCE_CONNECTION,
        query.as_deref(),
        "/sourceConnections",
    )
    .await
}

#[utoipa::path(get, path = "/sourceConnections/{id}", tag = "Source connections", params(("id" = String, Path)),
    responses((status = 200, description = "The item", body = crate::api::schema::One<crate::api::schema::items::SourceConnectionItem>)))]
async fn get_source_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one(find(&state, &caller, SOURCE_CONNECTION, &id).await?.doc))
}

#[utoipa::path(patch, path = "/sourceConnections/{id}", tag = "Source connections", params(("id" = String, Path), ("If-Match" = String, Header, description = "The etag the change is based on")),
    request_body = Vec<crate::api::schema::requests::PatchOperation>,
    responses((status = 200, description = "Changed", body = crate::api::schema::Created)))]
async fn patch_source_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(ops): JsonBody,
) -> Result<Response, ApiError> {
    let row = find_for_patch(&state, &caller, SOURCE_CONNECTION, &id, &headers).await?;
    let view = patch(&row.doc, &ops, &["/name", "/description", "/data", "/params"])?;
    let cdc = |doc: &Value| doc.pointer("/params/cdcEnabled") == Some(&Value::Bool(true));
    if cdc(&view) != cdc(&row.doc)
        && let Some(flow) = first_user(&state, &caller, FLOW, "sourceConnectionIds", &id).await?
    {
        // A flow's dataset and replication slot belong to the way it was created.
        return Err(ApiError::invalid(
            "The source connection is not valid",
            vec![Violation::new(
                "/params/cdcEnabled",
                format!(
                    "cannot change while flow {flow} reads through this source connection: delete the flow first \
                     (which drops its replication slot), or create another source connection"
                ),
            )],
        ));
    }
    let mut doc = row.doc.clone();
    merge(&mut doc, document(&checked(&state, &caller, &view).await?));
    replace(&state, &caller, SOURCE_CONNECTION, &row, doc).await
}

#[utoipa::path(delete, path = "/sourceConnections/{id}", tag = "Source connections", params(("id" = String, Path)), responses((status = 204, description = "Deleted")))]
async fn delete_source_connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    delete_unless_a_flow_uses(&state, &caller, SOURCE_CONNECTION, &id, "sourceConnectionIds").await
}

/// The user-editable part of a source connection's item, from a create body or a
/// patched item, after every check (the table is described through the base connection).
async fn checked(state: &AppState, caller: &Caller, body: &Value) -> Result<SourceConnectionBody, ApiError> {
    let mut fields = Fields::new(body);
    let name = fields.name("/name");
    let description = fields.description("/description");
    fields.objects(&["/connectionSpec", "/data", "/params"]);
    let base_id = fields.required("/baseConnectionId");
    let spec_id = fields.optional("/connectionSpec/id");
    let spec_version = fields.optional("/connectionSpec/version");
    let format = fields.one_of("/data/format", &["tabular"], "tabular");
    let table_name = fields.required("/params/tableName");
    let wanted = match body.pointer("/params/columns") {
        None | Some(Value::Null) => None,
        Some(list) => {
            fields.extend(column_types_given(list));
            column_names(list).map_err(|v| fields.extend(v)).ok()
        }
    };
    let cdc = match body.pointer("/params/cdcEnabled") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => {
            fields.push("/params/cdcEnabled", "must be true or false");
            false
        }
    };
    fields.finish("The source connection is not valid")?;
    let base = referenced(state, caller, CONNECTION, &base_id, "/baseConnectionId").await?;
    let base_spec = &base.doc["connectionSpec"];
    if !spec_id.is_empty() && base_spec["id"].as_str() != Some(spec_id.as_str()) {
        return Err(ApiError::bad_request(
            "1419",
            format!(
                "connectionSpec.id {spec_id} is not the spec of base connection {base_id} ({}); a source connection reads through its base connection's spec",
                base_spec["id"].as_str().unwrap_or_default()
            ),
        ));
    }
    let (source, config) = open_source(state, &base)?;
    let table = TableRef::parse(&table_name, config.schema.as_deref().unwrap_or("public"))
        .map_err(|e| no_columns(&table_name, &e.to_string()))?;
    let described = source.describe(&table).await.map_err(|e| unreadable(e, &table))?;
    let columns = chosen_columns(&described, wanted)?;
    if cdc {
        let names: Option<Vec<String>> = columns.as_ref().map(|c| c.iter().map(|c| c.name.clone()).collect());
        capturable(source.as_ref(), &described.table, names.as_deref()).await?;
    }
    let spec: SpecRef = serde_json::from_value(base_spec.clone()).map_err(ApiError::internal)?;
    Ok(SourceConnectionBody {
        name,
        description,
        base_connection_id: base_id,
        state: "enabled".into(),
        data: DataFormat { format, schema: None },
        params: SourceParams {
            table_name: object_path(&described.table),
            columns,
            cdc_enabled: cdc.then_some(true),
        },
        connection_spec: SpecRef {
            version: if spec_version.is_empty() {
                "1.0".into()
            } else {
                spec_version
            },
            ..spec.clone()
        },
        inherited_attributes: SourceInherited {
            base_connection: BaseRef {
                id: base.id,
                connection_spec: spec,
            },
        },
    })
}

/// A checked body as the document the store keeps.
fn document(body: &SourceConnectionBody) -> Value {
    serde_json::to_value(body).expect("a source connection serialises")
}

/// Checks that the source can capture `table`'s changes: `400` saying what to change
/// when it cannot (a Redshift cluster has no change log to read).
async fn capturable(source: &dyn Source, table: &TableRef, columns: Option<&[String]>) -> Result<(), ApiError> {
    let refuse = |message: String| {
        ApiError::invalid(
            "Change data capture is not possible for this table",
            vec![Violation::new("/params/cdcEnabled", message)],
        )
    };
    let Some(feed) = source.change_feed() else {
        return Err(refuse(
            "this source has no change log Inlet can read (Amazon Redshift offers none); leave cdcEnabled out, and \
             use a flow with a deltaColumn and mergeByKey to keep updated rows once"
                .into(),
        ));
    };
    match feed.check(table, columns).await {
        Ok(Ok(_key)) => Ok(()),
        Ok(Err(refusal)) => Err(refuse(format!("{} ({})", refusal.message, refusal.what))),
        Err(error) => Err(unreadable(error, table)),
    }
}

/// `1330-400` for `table`.
pub(super) fn no_columns(table: &str, why: &str) -> ApiError {
    ApiError::bad_request("1330", format!("No columns found for table {table}: {why}"))
}

/// A missing or unreadable table is the caller's to fix (`1330-400`); a source that
/// cannot be reached or refuses the login answers as explore does.
pub(super) fn unreadable(error: SourceError, table: &TableRef) -> ApiError {
    match error.kind {
        SourceErrorKind::TableNotFound | SourceErrorKind::PermissionDenied => {
            no_columns(&object_path(table), &error.message)
        }
        _ => error.into(),
    }
}

/// The requested columns as `[{name, type}]`, in the order asked (`None`: all columns);
/// `1330-400` naming every requested column the table lacks.
fn chosen_columns(described: &TableSchema, wanted: Option<Vec<String>>) -> Result<Option<Vec<ColumnName>>, ApiError> {
    let table = object_path(&described.table);
    if described.columns.is_empty() {
        return Err(no_columns(&table, "the user may read none of its columns"));
    }
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    let find = |name: &str| described.columns.iter().find(|c| c.name == name);
    let missing: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|name| find(name).is_none())
        .collect();
    if !missing.is_empty() {
        let present: Vec<&str> = described.columns.iter().map(|c| c.name.as_str()).collect();
        return Err(no_columns(
            &table,
            &format!(
                "it has no readable column {}; its columns are {}",
                missing.join(", "),
                present.join(", ")
            ),
        ));
    }
    let chosen = wanted
        .iter()
        .filter_map(|name| find(name))
        .map(|column| {
            let shown = schema::column_json(column);
            ColumnName {
                name: column.name.clone(),
                kind: shown["type"].as_str().unwrap_or_default().to_string(),
            }
        })
        .collect();
    Ok(Some(chosen))
}
