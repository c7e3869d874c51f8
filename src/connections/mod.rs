//! Base connections: reading a request into a checked connection, keeping its secrets
//! sealed apart from the document the API shows, and applying JSON Patch updates.

pub mod destination;
#[cfg(test)]
mod proptests;
pub mod rate;
pub mod secrets;

use serde_json::{Map, Value, json};

use crate::identity::{Caller, Tenant};
use crate::secret::MASK;
use crate::sources::config::SourceConfig;
use crate::specs::{AuthSpec, ConnectionSpec, SpecCatalog, Violation};
use crate::store::ResourceRow;
use secrets::SecretCipher;

/// The store kind of base connections.
pub const KIND: &str = "connection";

/// Why a connection request was refused.
#[derive(Debug)]
pub enum ConnectionError {
    /// Fields of the request broke these rules.
    Invalid(Vec<Violation>),
    /// No connection spec has this id.
    UnknownSpec(String),
    /// The spec exists but has no auth spec of that name.
    UnknownAuthSpec {
        spec: String,
        name: String,
        allowed: Vec<String>,
    },
    /// The spec is a target (data lake) spec, which takes no base connection.
    NotASource(String),
    /// A patch tried to change the connection spec.
    SpecChange,
    /// A patch operation or path that connections do not support.
    BadPatch(String),
    /// The stored secrets could not be decrypted.
    Sealed(secrets::DecryptError),
    /// A patch moves stored secrets to another destination without supplying them.
    SecretsRequired(Vec<Violation>),
}

/// A patched connection and the secret fields it kept from the store (it did not
/// supply them: they read `<secret>` or were left alone).
#[derive(Debug, Clone)]
pub struct Patched {
    pub input: ConnectionInput,
    pub kept: Vec<String>,
}

/// The user-editable part of a connection: what a create request carries and what a
/// patch changes.
#[derive(Debug, Clone)]
pub struct ConnectionInput {
    pub name: String,
    pub description: String,
    pub spec_id: String,
    pub spec_version: String,
    pub auth_spec: String,
    /// Complete parameters, secrets included: never stored or logged as they are.
    pub params: Value,
}

impl ConnectionInput {
    /// Reads a create request's body.
    pub fn from_body(body: &Value) -> Result<ConnectionInput, ConnectionError> {
        let mut violations = Vec::new();
        let name = required_string(body, "/name", &mut violations);
        let spec_id = required_string(body, "/connectionSpec/id", &mut violations);
        let auth_spec = required_string(body, "/auth/specName", &mut violations);
        let params = body.pointer("/auth/params").cloned().unwrap_or(Value::Null);
        if !params.is_object() {
            violations.push(violation(
                "/auth/params",
                "is required and must be an object of the auth spec's parameters",
            ));
        }
        let description = optional_string(body, "/description", &mut violations);
        let spec_version = optional_string(body, "/connectionSpec/version", &mut violations);
        violations.extend(crate::bounds::too_long("/name", &name, crate::bounds::MAX_NAME));
        violations.extend(crate::bounds::too_long(
            "/description",
            &description,
            crate::bounds::MAX_DESCRIPTION,
        ));
        for path in ["/connectionSpec", "/auth"] {
            if body.pointer(path).is_some_and(|v| !v.is_object()) {
                violations.push(violation(path, "must be an object"));
            }
        }
        if !violations.is_empty() {
            return Err(ConnectionError::Invalid(violations));
        }
        Ok(ConnectionInput {
            name,
            description,
            spec_id,
            spec_version: if spec_version.is_empty() {
                "1.0".into()
            } else {
                spec_version
            },
            auth_spec,
            params,
        })
    }

    /// Checks the spec, auth spec and parameters; returns the input with defaults filled.
    pub fn checked(mut self, specs: &SpecCatalog) -> Result<(ConnectionInput, &AuthSpec), ConnectionError> {
        let spec = specs
            .connection_spec(&self.spec_id)
            .ok_or_else(|| ConnectionError::UnknownSpec(self.spec_id.clone()))?;
        if spec.source_kind().is_none() {
            return Err(ConnectionError::NotASource(self.spec_id.clone()));
        }
        let auth = auth_spec(spec, &self.auth_spec)?;
        auth.validate(&self.params).map_err(ConnectionError::Invalid)?;
        self.params = auth.with_defaults(&self.params);
        Ok((self, auth))
    }
}

fn auth_spec<'a>(spec: &'a ConnectionSpec, name: &str) -> Result<&'a AuthSpec, ConnectionError> {
    spec.auth_spec(name).ok_or_else(|| ConnectionError::UnknownAuthSpec {
        spec: spec.name().to_string(),
        name: name.to_string(),
        allowed: spec.auth_spec_names().into_iter().map(str::to_string).collect(),
    })
}

/// The associated data that binds a connection's sealed secrets to it.
pub fn record_binding(tenant: &Tenant, id: &str) -> String {
    format!("inlet/v1/{}/{}/{KIND}/{id}", tenant.org, tenant.sandbox)
}

/// Splits `params` into the document's copy (secret fields masked) and the sealed secrets.
pub fn seal_params(cipher: &SecretCipher, auth: &AuthSpec, params: &Value, binding: &str) -> (Value, Option<Vec<u8>>) {
    let mut masked = params.clone();
    let mut secrets = Map::new();
    for field in auth.secret_fields() {
        if let Some(value) = masked.get_mut(field) {
            secrets.insert(field.to_string(), std::mem::replace(value, Value::String(MASK.into())));
        }
    }
    if secrets.is_empty() {
        return (masked, None);
    }
    let plaintext = serde_json::to_vec(&secrets).expect("a JSON map serialises");
    (masked, Some(cipher.seal(&plaintext, binding)))
}

/// The complete parameters: the document's masked copy with the sealed secrets put back.
pub fn open_params(
    cipher: &SecretCipher,
    masked: &Value,
    sealed: Option<&[u8]>,
    binding: &str,
) -> Result<Value, ConnectionError> {
    let mut params = masked.clone();
    if let Some(sealed) = sealed {
        let plaintext = cipher.open(sealed, binding).map_err(ConnectionError::Sealed)?;
        let secrets: Map<String, Value> =
            serde_json::from_slice(&plaintext).map_err(|_| ConnectionError::Sealed(secrets::DecryptError))?;
        for (field, value) in secrets {
            params[field.as_str()] = value;
        }
    }
    Ok(params)
}

/// A stored connection as it was created or last patched, its secrets opened.
pub fn stored_input(cipher: &SecretCipher, row: &ResourceRow) -> Result<ConnectionInput, ConnectionError> {
    let doc = &row.doc;
    let text = |path: &str| {
        doc.pointer(path)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let masked = doc.pointer("/auth/params").cloned().unwrap_or(Value::Null);
    let binding = record_binding(&row.tenant, &row.id);
    Ok(ConnectionInput {
        name: text("/name"),
        description: text("/description"),
        spec_id: text("/connectionSpec/id"),
        spec_version: text("/connectionSpec/version"),
        auth_spec: text("/auth/specName"),
        params: open_params(cipher, &masked, row.secret.as_deref(), &binding)?,
    })
}

/// How to connect to the database a stored base connection describes.
pub fn source_config(
    cipher: &SecretCipher,
    specs: &SpecCatalog,
    row: &ResourceRow,
) -> Result<SourceConfig, ConnectionError> {
    destination::config_of(specs, &stored_input(cipher, row)?)
}

/// The API document of a connection.
pub fn document(
    id: &str,
    caller: &Caller,
    input: &ConnectionInput,
    masked_params: &Value,
    etag: &str,
    now: i64,
    sandbox_id: &str,
) -> Value {
    json!({
        "id": id,
        "createdAt": now,
        "updatedAt": now,
        "createdBy": caller.subject,
        "updatedBy": caller.subject,
        "createdClient": caller.client_id,
        "updatedClient": caller.client_id,
        "sandboxId": sandbox_id,
        "sandboxName": caller.tenant.sandbox,
        "imsOrgId": caller.tenant.org,
        "name": input.name,
        "description": input.description,
        "connectionSpec": {"id": input.spec_id, "version": input.spec_version},
        "state": "enabled",
        "auth": {"specName": input.auth_spec, "params": masked_params},
        "version": etag,
        "etag": etag,
    })
}

/// Applies a JSON Patch to a stored connection. `current` holds the complete parameters;
/// a secret field whose new value reads `<secret>` keeps its current value, and is
/// listed as kept.
pub fn apply_patch(current: &ConnectionInput, masked_params: &Value, ops: &Value) -> Result<Patched, ConnectionError> {
    let ops = normalise_ops(ops)?;
    let mut view = json!({
        "name": current.name,
        "description": current.description,
        "auth": {"specName": current.auth_spec, "params": masked_params},
    });
    // Neither message quotes the patch's values, which may be secrets.
    let patch: json_patch::Patch = serde_json::from_value(ops).map_err(|_| {
        ConnectionError::BadPatch("each operation needs a string `path`, and add and replace need a `value`".into())
    })?;
    json_patch::patch(&mut view, &patch)
        .map_err(|e| ConnectionError::BadPatch(format!("operation {} cannot be applied: {}", e.operation, e.kind)))?;
    let mut params = view.pointer("/auth/params").cloned().unwrap_or(Value::Null);
    let mut kept = Vec::new();
    if let Some(fields) = params.as_object_mut() {
        for (field, value) in fields.iter_mut() {
            if value.as_str() == Some(MASK)
                && let Some(stored) = current.params.get(field)
            {
                *value = stored.clone();
                kept.push(field.clone());
            }
        }
    }
    let mut violations = Vec::new();
    let name = required_string(&view, "/name", &mut violations);
    let description = optional_string(&view, "/description", &mut violations);
    if !violations.is_empty() {
        return Err(ConnectionError::Invalid(violations));
    }
    let input = ConnectionInput {
        name,
        description,
        params,
        ..current.clone()
    };
    Ok(Patched { input, kept })
}

/// Lower-cases each op and checks that ops and paths are ones connections support.
fn normalise_ops(ops: &Value) -> Result<Value, ConnectionError> {
    let Some(list) = ops.as_array() else {
        return Err(ConnectionError::BadPatch(
            "the body must be a JSON Patch array of operations".into(),
        ));
    };
    let mut out = Vec::with_capacity(list.len());
    for (index, op) in list.iter().enumerate() {
        let mut op = op.clone();
        let name = op
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !["add", "replace", "remove"].contains(&name.as_str()) {
            return Err(ConnectionError::BadPatch(format!(
                "operation {index}: `op` must be add, replace or remove"
            )));
        }
        let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
        if path.starts_with("/connectionSpec") {
            return Err(ConnectionError::SpecChange);
        }
        let allowed = matches!(path, "/name" | "/description" | "/auth/params")
            || path
                .strip_prefix("/auth/params/")
                .is_some_and(|field| !field.is_empty() && !field.contains('/'));
        if !allowed {
            return Err(ConnectionError::BadPatch(format!(
                "operation {index}: path `{path}` cannot be changed; allowed paths: /name, /description, /auth/params, /auth/params/<field>"
            )));
        }
        op["op"] = Value::String(name);
        out.push(op);
    }
    Ok(Value::Array(out))
}

fn violation(path: &str, message: &str) -> Violation {
    Violation {
        path: path.to_string(),
        message: message.to_string(),
    }
}

fn required_string(body: &Value, path: &str, violations: &mut Vec<Violation>) -> String {
    match body.pointer(path) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => {
            violations.push(violation(path, "must not be empty"));
            String::new()
        }
        Some(_) => {
            violations.push(violation(path, "must be a string"));
            String::new()
        }
        None => {
            violations.push(violation(path, "is required"));
            String::new()
        }
    }
}

fn optional_string(body: &Value, path: &str, violations: &mut Vec<Violation>) -> String {
    match body.pointer(path) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            violations.push(violation(path, "must be a string"));
            String::new()
        }
    }
}
