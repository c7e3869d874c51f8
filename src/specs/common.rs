//! Schema fragments shared by the database connection specs.

use crate::sources::limits;
use serde_json::{Value, json};

/// The provider id every Inlet spec carries (the platform's id for its own sources,
/// so clients that filter on it keep working).
pub(super) const PROVIDER_ID: &str = "0ed90a81-07f4-4586-8190-b40eccef1c5a";

/// The draft the auth, source and target schemas are written in.
pub(super) const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// `port`: digits as a string or an integer, 1 to 65535 (a string's range is
/// checked in code, as draft-07 cannot compare a string numerically).
pub(super) fn port(default: u16) -> Value {
    json!({
        "type": ["string", "integer"],
        "description": format!(
            "TCP port of the database server, as a number or a string of digits \
             from 1 to 65535. Default: {default}."
        ),
        "pattern": "^[0-9]+$",
        "maxLength": 5,
        "minimum": 1,
        "maximum": 65535,
        "default": default
    })
}

/// `sslMode`: checked by `SslMode::parse` rather than an enum, since many
/// spellings are accepted.
pub(super) fn ssl_mode(default: &str) -> Value {
    json!({
        "type": ["string", "boolean"],
        "description": format!(
            "TLS mode, with exactly the meaning of libpq's sslmode: Disable (no TLS), \
             Allow, Prefer (TLS if offered, certificate not checked), Require (TLS, \
             but the server is not authenticated: a man in the middle can impersonate \
             it), Verify-Ca (certificate chain checked, host name not), Verify-Full \
             (chain and host name checked: the only mode that protects against a man \
             in the middle). Any case; `-`, `_`, a space or nothing between words. \
             true/false mean Require/Disable. Default: {default}."
        ),
        "maxLength": limits::SSL_MODE,
        "default": default
    })
}

/// `sslRootCert`: PEM text of the CA certificates to trust.
pub(super) fn ssl_root_cert(when_absent: &str) -> Value {
    json!({
        "type": "string",
        "description": format!(
            "PEM text of the CA certificates that sign the server's certificate \
             (one or more `-----BEGIN CERTIFICATE-----` blocks), used by Verify-Ca \
             and Verify-Full, at most {} characters. When absent: {when_absent}.",
            limits::PEM
        ),
        "maxLength": limits::PEM
    })
}

/// A non-empty name (database, user, schema) of at most [`limits::NAME`] characters.
pub(super) fn text(description: &str) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": limits::NAME, "description": description})
}

/// A host name or IP address of at most [`limits::HOST`] characters.
pub(super) fn host(description: &str) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": limits::HOST, "description": description})
}

/// A secret string property of at most `max` characters: never returned by the API,
/// stored encrypted.
pub(super) fn secret(description: &str, max: usize) -> Value {
    json!({"type": "string", "format": "password", "maxLength": max, "description": description})
}

/// The `sourceSpec` of a database spec: the params of a source connection.
pub(super) fn source_spec(label: &str, icon: &str) -> Value {
    json!({
        "attributes": {
            "uiAttributes": {
                "isSource": true,
                "isPreview": true,
                "isBeta": false,
                "category": {"key": "database"},
                "icon": {"key": icon},
                "label": {"key": label}
            }
        },
        "spec": {
            "$schema": DRAFT_07,
            "type": "object",
            "description": "Parameters of a source connection: the table or view to read.",
            "properties": {
                "tableName": {
                    "type": "string",
                    "description": "The table or view to read, as `schema.table`; quote \
                                    names that need it: `\"My Schema\".\"Order Lines\"`."
                },
                "columns": {
                    "type": "array",
                    "description": "The columns to read. All columns when absent.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "description": "Column name."},
                            "type": {"type": "string", "description": "Column type as explore reports it."}
                        },
                        "required": ["name"]
                    }
                }
            },
            "required": ["tableName"]
        }
    })
}

/// The `exploreSpec` of a database spec.
pub(super) fn explore_spec() -> Value {
    json!({"name": "Tabular", "type": "Tabular"})
}
