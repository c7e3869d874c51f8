//! The catalog of connection specs and the flow spec: the documents the API serves
//! under `/connectionSpecs` and `/flowSpecs`, and validation of a connection's
//! `auth.params` against its auth spec's draft-07 schema.
//!
//! The catalog is built once at start-up ([`SpecCatalog::new`]) and held in the
//! application state.

mod common;
mod datalake;
mod postgres;
mod redshift;
pub(crate) mod validate;

#[cfg(test)]
mod tests;

use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// Id of the PostgreSQL connection spec (`postgre-sql`).
pub const POSTGRES_SPEC_ID: &str = "74a1c565-4e59-48d7-9d67-7c03b8a13137";
/// Id of the Amazon Redshift connection spec (`amazon-redshift`).
pub const REDSHIFT_SPEC_ID: &str = "3416976c-a9ca-4bba-901a-1f08f66978ff";
/// Id of the Data Lake target connection spec (`datalake`).
pub const DATALAKE_SPEC_ID: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";
/// Id of the `CRMToAEP` flow spec.
pub const FLOW_SPEC_ID: &str = "14518937-270c-4525-bdec-c2ba7cce3860";

/// Name of the host/user/password auth spec (PostgreSQL and Redshift).
pub const BASIC_AUTH: &str = "Basic Authentication";
/// Name of PostgreSQL's connection-string auth spec.
pub const CONNECTION_STRING_AUTH: &str = "Connection String Based Authentication";

/// The kind of database a source connection spec reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// PostgreSQL.
    Postgres,
    /// Amazon Redshift.
    Redshift,
}

/// All connection specs and flow specs Inlet offers.
#[derive(Clone, Debug)]
pub struct SpecCatalog {
    connection_specs: Vec<ConnectionSpec>,
    flow_specs: Vec<Value>,
}

impl SpecCatalog {
    /// Builds the catalog, compiling every auth schema.
    pub fn new() -> Self {
        SpecCatalog {
            connection_specs: vec![
                ConnectionSpec::new(postgres::document(), Some(SourceKind::Postgres)),
                ConnectionSpec::new(redshift::document(), Some(SourceKind::Redshift)),
                ConnectionSpec::new(datalake::document(), None),
            ],
            flow_specs: vec![datalake::flow_document()],
        }
    }

    /// Every connection spec, sources first, then the data lake target.
    pub fn connection_specs(&self) -> &[ConnectionSpec] {
        &self.connection_specs
    }

    /// The connection spec with this id.
    pub fn connection_spec(&self, id: &str) -> Option<&ConnectionSpec> {
        self.connection_specs.iter().find(|spec| spec.id() == id)
    }

    /// The flow spec documents (`CRMToAEP`), as `GET /flowSpecs` serves them.
    pub fn flow_specs(&self) -> &[Value] {
        &self.flow_specs
    }
}

impl Default for SpecCatalog {
    fn default() -> Self {
        Self::new()
    }
}

/// One connection spec: its served document and its compiled auth specs.
#[derive(Clone, Debug)]
pub struct ConnectionSpec {
    id: String,
    name: String,
    source_kind: Option<SourceKind>,
    document: Value,
    auth_specs: Vec<AuthSpec>,
}

impl ConnectionSpec {
    fn new(document: Value, source_kind: Option<SourceKind>) -> Self {
        let field = |key: &str| document[key].as_str().expect("spec field").to_string();
        let auth_specs = document["authSpec"]
            .as_array()
            .expect("authSpec list")
            .iter()
            .map(AuthSpec::new)
            .collect();
        ConnectionSpec {
            id: field("id"),
            name: field("name"),
            source_kind,
            auth_specs,
            document,
        }
    }

    /// The spec id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The spec name (`postgre-sql`, `amazon-redshift`, `datalake`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database kind of a source spec; `None` for the data lake target.
    pub fn source_kind(&self) -> Option<SourceKind> {
        self.source_kind
    }

    /// The document `GET /connectionSpecs/{id}` serves as its item.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The auth spec with exactly this name.
    pub fn auth_spec(&self, name: &str) -> Option<&AuthSpec> {
        self.auth_specs.iter().find(|spec| spec.name == name)
    }

    /// The names of the auth specs, in document order.
    pub fn auth_spec_names(&self) -> Vec<&str> {
        self.auth_specs.iter().map(|spec| spec.name.as_str()).collect()
    }
}

/// One auth spec of a connection spec: a name and a draft-07 schema for
/// `auth.params`.
#[derive(Clone)]
pub struct AuthSpec {
    name: String,
    auth_type: String,
    schema: Value,
    validator: Arc<jsonschema::Validator>,
}

impl fmt::Debug for AuthSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSpec")
            .field("name", &self.name)
            .field("type", &self.auth_type)
            .finish_non_exhaustive()
    }
}

impl AuthSpec {
    fn new(entry: &Value) -> Self {
        let schema = entry["spec"].clone();
        let validator = jsonschema::draft7::new(&schema).expect("auth schemas are valid");
        AuthSpec {
            name: entry["name"].as_str().expect("auth spec name").to_string(),
            auth_type: entry["type"].as_str().expect("auth spec type").to_string(),
            schema,
            validator: Arc::new(validator),
        }
    }

    /// The auth spec name, e.g. `Basic Authentication`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The auth spec type, e.g. `PostgreSQLBasicAuth`.
    pub fn auth_type(&self) -> &str {
        &self.auth_type
    }

    /// The draft-07 schema of `auth.params`.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Validates params against the schema and the checks a schema cannot express
    /// (`sslMode` spellings, the range of a port given as a string, the grammar of a
    /// connection string, PEM of `sslRootCert`). Returns every violation, each at a
    /// JSON pointer prefixed with `/auth/params` (e.g. `/auth/params/server`), sorted
    /// by path. Messages never contain a value that was given.
    pub fn validate(&self, params: &Value) -> Result<(), Vec<Violation>> {
        let mut violations = validate::schema_violations(&self.validator, &self.schema, params);
        violations.extend(validate::semantic_violations(&self.schema, params));
        violations.sort_by(|a, b| a.path.cmp(&b.path));
        violations.dedup();
        if violations.is_empty() { Ok(()) } else { Err(violations) }
    }

    /// The properties marked `"format": "password"`: never returned, stored encrypted.
    pub fn secret_fields(&self) -> Vec<&str> {
        self.properties()
            .filter(|(_, schema)| schema["format"] == "password")
            .map(|(name, _)| name)
            .collect()
    }

    /// A copy of `params` with the schema's `default` filled in for each absent
    /// top-level property (e.g. Redshift's port 5439 and sslMode `Verify-Full`).
    /// Given values are left as given; a non-object is returned unchanged.
    pub fn with_defaults(&self, params: &Value) -> Value {
        let mut filled = params.clone();
        if let Some(map) = filled.as_object_mut() {
            for (name, schema) in self.properties() {
                if let Some(default) = schema.get("default") {
                    map.entry(name).or_insert_with(|| default.clone());
                }
            }
        }
        filled
    }

    fn properties(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, schema)| (name.as_str(), schema))
    }
}

/// One reason `auth.params` were refused: where (a JSON pointer from the request
/// body's root, e.g. `/auth/params/port`) and what is wrong and allowed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON pointer to the offending (or missing) field.
    pub path: String,
    /// What is wrong and what is allowed; never contains the value given.
    pub message: String,
}

impl Violation {
    /// A violation at `path` with `message`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
