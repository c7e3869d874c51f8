//! The HTTP API: the Flow Service contract (`shared/spec/api.md`), one module per resource.

pub mod auth;
pub mod body;
pub mod catalog;
pub mod catalog_query;
pub mod connections;
pub mod dataset_maintenance;
pub mod error;
pub mod explore;
pub mod fields;
pub mod flow_capture;
pub mod flow_checks;
pub mod flows;
pub mod ims;
pub mod list_tokens;
pub mod mapping_sets;
pub mod openapi;
pub mod ops;
pub mod paging;
pub mod resource;
pub mod run_item;
pub mod runs;
pub mod sandboxes;
pub mod schema;
pub mod source_connections;
pub mod specs;
pub mod subscriptions;
pub mod target_connections;

/// Where the Flow Service resources live.
pub const FLOW_SERVICE: &str = "/data/foundation/flowservice";
/// Where Catalog (datasets and batches) lives.
pub const CATALOG: &str = "/data/foundation/catalog";
/// Where mapping sets (Data Prep) live.
pub const CONVERSION: &str = "/data/foundation/conversion";
/// Where sandbox management lives.
pub const SANDBOX_MANAGEMENT: &str = "/data/foundation/sandbox-management";
