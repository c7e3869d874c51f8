//! Who is calling: API clients, the tokens they carry, and the tenant (org and sandbox)
//! that scopes every resource.

pub mod clients;
pub mod keys;
pub mod tokens;

/// The sandbox every org has without creating it.
pub const DEFAULT_SANDBOX: &str = "prod";

/// An (org, sandbox) pair: every resource belongs to exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tenant {
    pub org: String,
    pub sandbox: String,
}

impl Tenant {
    /// The sandbox's id: derived from (org, name), so every process agrees on it.
    pub fn sandbox_id(&self) -> String {
        sandbox_id(&self.org, &self.sandbox)
    }
}

/// The id of the org's sandbox `name`.
pub fn sandbox_id(org: &str, name: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("inlet-sandbox/{org}/{name}").as_bytes(),
    )
    .to_string()
}

/// An authenticated caller of the API, scoped to one tenant.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: Tenant,
    /// The API client the token was issued to (`x-api-key`).
    pub client_id: String,
    /// The token's `sub`, recorded as `createdBy`/`updatedBy`.
    pub subject: String,
}
