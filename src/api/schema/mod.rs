//! The shapes of the API, for the OpenAPI document (`/openapi.json`) and for the handlers
//! that write them: the envelopes every Flow Service answer shares, the error shapes, and
//! one module each for the resources' items and the bodies that create them.
//!
//! Items are what Inlet stores and shows; free-form parts (`auth.params`, schemas, tags)
//! are objects, bounded like every body (`crate::bounds`).

pub mod catalog;
pub mod items;
pub mod requests;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `201 {id, etag}`: a resource was created or changed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    pub id: String,
    /// The new etag, in double quotes.
    pub etag: String,
}

/// `{"count": n}`: a list asked for with `count=true`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Count {
    pub count: i64,
}

/// `_links` of a list page: `next` while more items follow, else `{}`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Links {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Href>,
}

/// A link relative to the service's prefix.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Href {
    #[schema(example = "/connections?continuationToken=AbC")]
    pub href: String,
}

/// One page of a Flow Service list, or `{"count"}` when asked with `count=true`.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ListAnswer<T: ToSchema> {
    Page {
        items: Vec<T>,
        #[serde(rename = "_links")]
        links: Links,
    },
    Count {
        count: i64,
    },
}

/// `{"items": [item]}`: one Flow Service resource.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct One<T: ToSchema> {
    pub items: Vec<T>,
}

/// A Flow Service error (§3).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FlowErrorBody {
    /// `https://ns.adobe.com/aep/errors/FLOW-<code>-<status>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub report: ErrorReport,
    #[serde(rename = "errorMessage")]
    pub error_message: String,
}

/// The detail of a Flow Service error.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorReport {
    #[serde(rename = "detailed-message")]
    pub detailed_message: String,
    #[serde(rename = "request-id")]
    pub request_id: String,
    /// Each broken rule of a body, by JSON path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<ViolationItem>>,
}

/// One broken rule of a body.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ViolationItem {
    #[schema(example = "/auth/params/server")]
    pub path: String,
    #[schema(example = "is required")]
    pub message: String,
}

/// A gateway error: the token, the api key or the org header was refused.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GatewayErrorBody {
    #[schema(example = "401013")]
    pub error_code: String,
    #[schema(example = "Oauth token is not valid")]
    pub message: String,
}

/// An OAuth error of the token endpoint.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    #[schema(example = "invalid_client")]
    pub error: String,
    pub error_description: String,
}

/// The parameters of a Flow Service list (§4).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Items per page, from 1 to 100 (20 when absent).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// A filter (repeatable, all must hold): `path==v1,v2`, `path!=v`, `path>n`, `path<n`,
    /// `path>=n`, `path<=n`, `path~text`, `path` (exists) or `!path` (missing).
    property: Option<Vec<String>>,
    /// `name`, `createdAt` or `updatedAt`, with an optional `+` or `-` (`-createdAt`).
    orderby: Option<String>,
    /// `true` (in any case) answers `{"count"}` only; not together with `limit`.
    count: Option<bool>,
    /// The token of the `next` link of the previous page.
    #[param(rename = "continuationToken")]
    continuation_token: Option<String>,
}

/// The parameters of a Catalog list (§10).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CatalogListParams {
    /// Items per page, from 1 to 100 (20 when absent).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Items to skip.
    #[param(minimum = 0)]
    start: Option<u64>,
    /// `asc:<property>`, `desc:<property>` or `<property>`, comma-separated, where the
    /// property is `created`, `updated`, `name` or `id`.
    #[param(rename = "orderBy")]
    order_by: Option<String>,
    /// A filter as in Flow Service lists (repeatable).
    property: Option<Vec<String>>,
}
