//! `/subscriptions` (an Inlet extension, docs/alerts.md): webhooks that receive flow run
//! events, signed with a secret shown once, at create; their deliveries.

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::{ApiError, json_response};
use super::fields::Fields;
use super::resource::{FLOW, Kind, audit_fields, find, find_for_patch, list, merge, one, patch, replace};
use crate::alerts::events::SUBSCRIBABLE;
use crate::alerts::rate::MAX_PER_MINUTE;
use crate::alerts::sign::new_secret;
use crate::alerts::subscription::{SUBSCRIPTION_KIND, check_url, secret_binding};
use crate::alerts::{AlertEvent, EventKind};
use crate::bounds::MAX_NAME;
use crate::identity::Caller;
use crate::state::AppState;
use crate::store::{DeliveryRow, ResourceRow, new_etag, now_millis};

/// Subscriptions.
pub const SUBSCRIPTION: Kind = Kind {
    store: SUBSCRIPTION_KIND,
    noun: "Subscription",
};

/// Most flows one subscription may name.
const MAX_FLOWS: usize = 100;

/// The subscription routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(get_subscription, patch_subscription, delete_subscription))
        .routes(routes!(test_subscription))
        .routes(routes!(list_deliveries))
}

/// A subscription as asked for.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionBody {
    /// A name for people; optional.
    #[serde(default)]
    pub name: String,
    /// Where events are POSTed: `https://`, or `http://` where the operator allows it.
    pub url: String,
    /// The events wanted, at least one.
    pub events: Vec<EventKind>,
    /// Only these flows' events; empty or absent: every flow of the sandbox.
    #[serde(default)]
    pub flow_ids: Vec<String>,
    /// At most this many deliveries a minute (1 to 60000); absent: no limit. Deliveries
    /// beyond it wait for the next minute, never dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 60000)]
    pub max_deliveries_per_minute: Option<u32>,
}

/// The answer to a create: the only time the secret is shown.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionCreated {
    pub id: String,
    pub etag: String,
    /// Signs every delivery (docs/alerts.md); keep it: it is never shown again.
    pub secret: String,
    /// The test event sent to the URL now.
    pub test_event_id: String,
}

/// A subscription item: its body and the audit fields; never its secret.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionItem {
    pub id: String,
    #[serde(flatten)]
    pub body: SubscriptionBody,
    pub created_at: i64,
    pub updated_at: i64,
    pub etag: String,
}

/// `{"eventId"}`: a test event was written and will be delivered.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestQueued {
    pub event_id: String,
}

/// A subscription's deliveries, newest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Deliveries {
    pub items: Vec<DeliveryRow>,
}

/// `?limit=` of the deliveries list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveriesQuery {
    /// At most this many (1 to 1000, 100 by default).
    pub limit: Option<String>,
}

#[utoipa::path(post, path = "/subscriptions", tag = "Subscriptions", request_body = SubscriptionBody,
    responses((status = 201, description = "Created; the secret is shown this once", body = SubscriptionCreated)))]
async fn create_subscription(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let checked = checked(&state, &caller, &body).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let etag = new_etag();
    let now = now_millis();
    let secret = new_secret();
    let mut doc = serde_json::to_value(&checked).map_err(ApiError::internal)?;
    merge(&mut doc, audit_fields(&id, &caller, &etag, now));
    let row = ResourceRow {
        kind: SUBSCRIPTION.store.into(),
        id: id.clone(),
        tenant: caller.tenant.clone(),
        etag: etag.clone(),
        created_at: now,
        updated_at: now,
        doc,
        secret: Some(
            state
                .cipher
                .seal(secret.as_bytes(), &secret_binding(&caller.tenant, &id)),
        ),
    };
    state.store.insert_resource(&row).await?;
    let test = AlertEvent::test(&caller.tenant, &id, now);
    state.store.insert_alert_event(&test).await?;
    tracing::info!(subscription = %id, "subscription created");
    let created = SubscriptionCreated {
        id,
        etag,
        secret,
        test_event_id: test.id,
    };
    Ok(json_response(StatusCode::CREATED, &created))
}

#[utoipa::path(get, path = "/subscriptions", tag = "Subscriptions", params(crate::api::schema::ListParams),
    responses((status = 200, description = "A page, or `{count}`", body = crate::api::schema::ListAnswer<SubscriptionItem>)))]
async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    list(&state, &caller, SUBSCRIPTION, query.as_deref(), "/subscriptions").await
}

#[utoipa::path(get, path = "/subscriptions/{id}", tag = "Subscriptions", params(("id" = String, Path)),
    responses((status = 200, description = "The item", body = crate::api::schema::One<SubscriptionItem>)))]
async fn get_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(one(find(&state, &caller, SUBSCRIPTION, &id).await?.doc))
}

#[utoipa::path(patch, path = "/subscriptions/{id}", tag = "Subscriptions", params(("id" = String, Path), ("If-Match" = String, Header, description = "The etag the change is based on")),
    request_body = Vec<crate::api::schema::requests::PatchOperation>,
    responses((status = 200, description = "Changed", body = crate::api::schema::Created)))]
async fn patch_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(ops): JsonBody,
) -> Result<Response, ApiError> {
    let row = find_for_patch(&state, &caller, SUBSCRIPTION, &id, &headers).await?;
    let allowed = ["/name", "/url", "/events", "/flowIds", "/maxDeliveriesPerMinute"];
    let view = patch(&row.doc, &ops, &allowed)?;
    let checked = checked(&state, &caller, &view).await?;
    let mut doc = row.doc.clone();
    if checked.max_deliveries_per_minute.is_none()
        && let Some(fields) = doc.as_object_mut()
    {
        // Merging keeps what the checked body leaves out: a limit removed must go.
        fields.remove("maxDeliveriesPerMinute");
    }
    merge(&mut doc, serde_json::to_value(&checked).map_err(ApiError::internal)?);
    replace(&state, &caller, SUBSCRIPTION, &row, doc).await
}

#[utoipa::path(delete, path = "/subscriptions/{id}", tag = "Subscriptions", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted; its pending deliveries end as dead")))]
async fn delete_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !state
        .store
        .delete_resource(SUBSCRIPTION.store, &caller.tenant, &id)
        .await?
    {
        return Err(ApiError::not_found(SUBSCRIPTION.noun, &id));
    }
    tracing::info!(subscription = %id, "subscription deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(post, path = "/subscriptions/{id}/test", tag = "Subscriptions", params(("id" = String, Path)),
    responses((status = 202, description = "A test event will be delivered", body = TestQueued)))]
async fn test_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    find(&state, &caller, SUBSCRIPTION, &id).await?;
    let test = AlertEvent::test(&caller.tenant, &id, now_millis());
    state.store.insert_alert_event(&test).await?;
    Ok(json_response(StatusCode::ACCEPTED, &TestQueued { event_id: test.id }))
}

#[utoipa::path(get, path = "/subscriptions/{id}/deliveries", tag = "Subscriptions", params(("id" = String, Path), DeliveriesQuery),
    responses((status = 200, description = "Its deliveries, newest first", body = Deliveries)))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<DeliveriesQuery>,
) -> Result<Response, ApiError> {
    let limit = match query.limit.as_deref().map(str::trim) {
        None => 100,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::bad_request("1001", "limit must be a whole number from 1 to 1000"))?,
    };
    find(&state, &caller, SUBSCRIPTION, &id).await?;
    let items = state.store.list_deliveries(&caller.tenant, &id, limit).await?;
    Ok(json_response(StatusCode::OK, &Deliveries { items }))
}

/// A subscription body (a create's, or a patched item), after every check.
async fn checked(state: &AppState, caller: &Caller, body: &Value) -> Result<SubscriptionBody, ApiError> {
    let mut fields = Fields::new(body);
    let name = fields.optional("/name");
    if name.chars().count() > MAX_NAME {
        fields.push("/name", &format!("must be at most {MAX_NAME} characters"));
    }
    let url = fields.required("/url");
    if !url.is_empty()
        && let Err(message) = check_url(&url, state.config.alerts.allow_http, &state.config.egress)
    {
        fields.push("/url", &message);
    }
    let events = events(&mut fields, body);
    let flow_ids = flow_ids(&mut fields, body);
    for (index, flow) in flow_ids.iter().enumerate() {
        if state
            .store
            .get_resource(FLOW.store, &caller.tenant, flow)
            .await?
            .is_none()
        {
            fields.push(
                &format!("/flowIds/{index}"),
                &format!("flow {flow} was not found in this organization and sandbox"),
            );
        }
    }
    let max_deliveries_per_minute = rate_limit(&mut fields, body);
    fields.finish("The subscription is not valid")?;
    Ok(SubscriptionBody {
        name,
        url: url.trim().to_string(),
        events,
        flow_ids,
        max_deliveries_per_minute,
    })
}

/// `/events`: a non-empty list of known kinds, each once.
fn events(fields: &mut Fields<'_>, body: &Value) -> Vec<EventKind> {
    let allowed = || SUBSCRIBABLE.map(EventKind::as_str).join(", ");
    let Some(list) = body
        .pointer("/events")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        fields.push("/events", &format!("must be a non-empty list of: {}", allowed()));
        return Vec::new();
    };
    let mut kinds = Vec::new();
    for (index, value) in list.iter().enumerate() {
        match value.as_str().and_then(EventKind::parse) {
            Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
            Some(_) => fields.push(&format!("/events/{index}"), "is listed twice"),
            None => fields.push(&format!("/events/{index}"), &format!("must be one of {}", allowed())),
        }
    }
    kinds
}

/// `/flowIds`: absent, or a list of ids.
fn flow_ids(fields: &mut Fields<'_>, body: &Value) -> Vec<String> {
    match body.pointer("/flowIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) if list.len() <= MAX_FLOWS => {
            let ids: Vec<String> = list.iter().filter_map(|v| v.as_str()).map(str::to_string).collect();
            if ids.len() != list.len() || ids.iter().any(|id| id.trim().is_empty()) {
                fields.push("/flowIds", "must be a list of flow ids (non-empty strings)");
            }
            ids
        }
        Some(_) => {
            fields.push("/flowIds", &format!("must be a list of at most {MAX_FLOWS} flow ids"));
            Vec::new()
        }
    }
}

/// `/maxDeliveriesPerMinute`: absent or null (no limit), or a whole number within bounds.
fn rate_limit(fields: &mut Fields<'_>, body: &Value) -> Option<u32> {
    let (low, high) = MAX_PER_MINUTE;
    match body.pointer("/maxDeliveriesPerMinute") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let limit = value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (low..=high).contains(n));
            if limit.is_none() {
                fields.push(
                    "/maxDeliveriesPerMinute",
                    &format!("must be a whole number from {low} to {high} (a JSON number); leave it out for no limit"),
                );
            }
            limit
        }
    }
}
