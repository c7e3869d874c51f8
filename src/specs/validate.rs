//! Turning schema errors into [`Violation`]s users can act on, and the checks a
//! draft-07 schema cannot express.
//!
//! Messages are built from the kind of each error and from the schema, never from
//! jsonschema's own `Display`, which quotes the instance value (a password, say).

use super::Violation;
use crate::sources::conn_string::{ConnectionString, is_pem};
use crate::sources::ssl_mode::SslMode;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, Validator};
use serde_json::Value;

/// Where `auth.params` sits in a request body; every path starts with it.
pub(crate) const PARAMS: &str = "/auth/params";

/// The message for a port out of range or not a number.
pub(crate) const PORT_MESSAGE: &str = "must be a port number from 1 to 65535";

/// The message for an `sslRootCert` that is not PEM.
pub(crate) const PEM_MESSAGE: &str = "must be PEM text of CA certificates, starting with `-----BEGIN CERTIFICATE-----`";

/// A JSON pointer to `name` under `/auth/params` + `parent`.
pub(crate) fn pointer(parent: &str, name: &str) -> String {
    let escaped = name.replace('~', "~0").replace('/', "~1");
    format!("{PARAMS}{parent}/{escaped}")
}

/// One violation per schema error (one per name for missing and unknown properties).
pub(super) fn schema_violations(validator: &Validator, schema: &Value, params: &Value) -> Vec<Violation> {
    let mut violations = Vec::new();
    for error in validator.iter_errors(params) {
        let at = error.instance_path.as_str();
        match &error.kind {
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                violations.push(Violation::new(pointer(at, name), "is required"));
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                violations.extend(
                    unexpected
                        .iter()
                        .map(|name| Violation::new(pointer(at, name), unknown_parameter(schema, name))),
                );
            }
            kind => {
                let property = at.rsplit('/').next().unwrap_or_default();
                violations.push(Violation::new(format!("{PARAMS}{at}"), describe(kind, property)));
            }
        }
    }
    violations
}

/// "unknown parameter `sslmode`; allowed parameters: ... (did you mean `sslMode`?)"
fn unknown_parameter(schema: &Value, name: &str) -> String {
    let allowed = allowed_parameters(schema);
    let mut message = format!("unknown parameter `{name}`; allowed parameters: {}", allowed.join(", "));
    if let Some(guess) = suggestion(&allowed, name) {
        message.push_str(&format!(" (did you mean `{guess}`?)"));
    }
    message
}

/// Required properties in schema order, then the optional ones by name.
fn allowed_parameters(schema: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut optional: Vec<&str> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, _)| name.as_str())
        .filter(|name| !names.contains(name))
        .collect();
    optional.sort_unstable();
    names.extend(optional);
    names
}

/// The allowed parameter a misspelt one most likely meant: same letters ignoring
/// case and separators, or a common name from libpq or other drivers.
fn suggestion<'a>(allowed: &[&'a str], name: &str) -> Option<&'a str> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let folded = fold(name);
    let alias = match folded.as_str() {
        "host" | "hostname" | "hostaddr" => "server",
        "user" | "userid" | "uid" | "login" => "username",
        "dbname" | "db" | "databasename" => "database",
        "pwd" | "pass" | "passwd" => "password",
        "ssl" | "sslmod" | "tls" => "sslMode",
        "sslrootcertificate" | "sslca" | "ca" | "cacert" => "sslRootCert",
        other => other,
    };
    allowed
        .iter()
        .copied()
        .find(|candidate| fold(candidate) == alias || *candidate == alias)
}

/// A message for every other kind of schema error.
fn describe(kind: &ValidationErrorKind, property: &str) -> String {
    use ValidationErrorKind as K;
    match kind {
        K::Pattern { .. } | K::Minimum { .. } | K::Maximum { .. } | K::MaxLength { .. } if property == "port" => {
            PORT_MESSAGE.to_string()
        }
        K::Type { kind } => format!("must be {}", type_names(kind)),
        K::MinLength { limit: 1 } => "must not be empty".to_string(),
        K::MinLength { limit } => format!("must be at least {limit} characters long"),
        K::MaxLength { limit } => format!("must be at most {limit} characters long"),
        K::Minimum { limit } => format!("must be at least {limit}"),
        K::Maximum { limit } => format!("must be at most {limit}"),
        K::Enum { options } => format!("must be one of: {}", list_values(options)),
        K::Constant { expected_value } => format!("must be {expected_value}"),
        K::Pattern { pattern } => format!("must match the pattern `{pattern}`"),
        _ => "is not valid here".to_string(),
    }
}

fn type_names(kind: &TypeKind) -> String {
    let names: Vec<&str> = match kind {
        TypeKind::Single(one) => vec![type_name(*one)],
        TypeKind::Multiple(set) => set.iter().map(type_name).collect(),
    };
    names.join(" or ")
}

fn type_name(kind: JsonType) -> &'static str {
    match kind {
        JsonType::Array => "an array",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "an integer",
        JsonType::Null => "null",
        JsonType::Number => "a number",
        JsonType::Object => "an object",
        JsonType::String => "a string",
    }
}

fn list_values(options: &Value) -> String {
    let values = options.as_array().map(Vec::as_slice).unwrap_or_default();
    let shown: Vec<String> = values
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect();
    shown.join(", ")
}

/// The checks beyond the schema, on the properties the schema declares. Each runs
/// only on a value of the type the schema allows, so a wrong type is reported once.
pub(super) fn semantic_violations(schema: &Value, params: &Value) -> Vec<Violation> {
    let (Some(declared), Some(given)) = (schema["properties"].as_object(), params.as_object()) else {
        return Vec::new();
    };
    let mut violations = Vec::new();
    for (name, value) in given.iter().filter(|(n, _)| declared.contains_key(*n)) {
        if let Some(message) = semantic_problem(name, value) {
            violations.push(Violation::new(pointer("", name), message));
        }
    }
    violations
}

fn semantic_problem(name: &str, value: &Value) -> Option<String> {
    match (name, value) {
        ("sslMode", Value::String(_) | Value::Bool(_)) => SslMode::parse(value).err(),
        ("port", Value::String(text)) if is_digits(text) => {
            let in_range = text.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
            (!in_range).then(|| PORT_MESSAGE.to_string())
        }
        ("connectionString", Value::String(text)) => ConnectionString::parse(text).err().map(|e| e.to_string()),
        ("sslRootCert", Value::String(text)) if !is_pem(text) => Some(PEM_MESSAGE.to_string()),
        _ => None,
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}
