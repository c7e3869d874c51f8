//! The parsed configuration of a source connection: both PostgreSQL auth specs and
//! Redshift's map to one [`SourceConfig`], which the source drivers connect with.

use super::conn_string::is_pem;
use crate::secret::Secret;
use crate::sources::conn_string::{ConnectionString, is_host};
use crate::sources::limits;
use crate::sources::ssl_mode::SslMode;
use crate::specs::validate::{PARAMS, PEM_MESSAGE, PORT_MESSAGE, pointer};
use crate::specs::{BASIC_AUTH, CONNECTION_STRING_AUTH, SourceKind, Violation};
use serde_json::{Map, Value};
use std::net::Ipv6Addr;
use std::path::PathBuf;

/// The message for a `server` that is neither a host name nor an IP address.
pub const HOST_MESSAGE: &str =
    "must be a host name (letters, digits, `-`, `_` and `.`) or an IP address (IPv6 without brackets)";

/// CA certificates to trust instead of the system roots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCert {
    /// PEM text of one or more certificates.
    Pem(String),
    /// Path of a PEM file on the Inlet host (connection string `TrustStore` only).
    Path(PathBuf),
}

/// Everything needed to connect to a source database. `Debug` masks the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfig {
    /// PostgreSQL or Redshift.
    pub kind: SourceKind,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: Secret,
    /// TLS mode, with libpq's meaning.
    pub ssl_mode: SslMode,
    /// CA certificates to trust; the system roots when `None`.
    pub root_cert: Option<RootCert>,
    /// Name the server certificate must carry, when it is not `host`.
    pub tls_server_name: Option<String>,
    /// Redshift only: the schema explore is limited to.
    pub schema: Option<String>,
}

impl SourceConfig {
    /// Builds the config from a connection's auth spec name and (validated) params.
    /// Absent optional params take the kind's defaults: port 5432 and `Prefer` for
    /// PostgreSQL, port 5439 and `Verify-Full` for Redshift. Whatever cannot be
    /// interpreted is reported as violations at `/auth/params/...` paths, so params
    /// that skipped [`crate::specs::AuthSpec::validate`] still fail cleanly.
    pub fn from_auth(kind: SourceKind, spec_name: &str, params: &Value) -> Result<SourceConfig, Vec<Violation>> {
        let Some(map) = params.as_object() else {
            return Err(vec![Violation::new(PARAMS, "must be an object")]);
        };
        match (kind, spec_name) {
            (SourceKind::Postgres, CONNECTION_STRING_AUTH) => from_connection_string(map),
            (_, BASIC_AUTH) => from_basic(kind, map),
            _ => Err(vec![Violation::new(
                "/auth/specName",
                format!("auth spec `{spec_name}` does not exist for {}", kind_allowed(kind)),
            )]),
        }
    }
}

fn kind_allowed(kind: SourceKind) -> String {
    match kind {
        SourceKind::Postgres => {
            format!("PostgreSQL; use `{BASIC_AUTH}` or `{CONNECTION_STRING_AUTH}`")
        }
        SourceKind::Redshift => format!("Amazon Redshift; use `{BASIC_AUTH}`"),
    }
}

fn from_connection_string(map: &Map<String, Value>) -> Result<SourceConfig, Vec<Violation>> {
    let path = pointer("", "connectionString");
    let text = match map.get("connectionString") {
        Some(Value::String(text)) => text,
        Some(_) => return Err(vec![Violation::new(path, "must be a string")]),
        None => return Err(vec![Violation::new(path, "is required")]),
    };
    let parsed = ConnectionString::parse(text).map_err(|e| vec![Violation::new(path, e.to_string())])?;
    let ssl_mode = parsed.ssl_mode();
    Ok(SourceConfig {
        kind: SourceKind::Postgres,
        host: parsed.server,
        port: parsed.port,
        database: parsed.database,
        user: parsed.user,
        password: parsed.password,
        ssl_mode,
        root_cert: parsed.trust_store.map(trust_store),
        tls_server_name: parsed.host_name_in_certificate,
        schema: None,
    })
}

/// `TrustStore` is PEM when it starts with a `-----BEGIN` line, a file path otherwise.
fn trust_store(text: String) -> RootCert {
    if is_pem(&text) {
        RootCert::Pem(text)
    } else {
        RootCert::Path(PathBuf::from(text))
    }
}

fn from_basic(kind: SourceKind, map: &Map<String, Value>) -> Result<SourceConfig, Vec<Violation>> {
    let (default_port, default_mode) = match kind {
        SourceKind::Postgres => (5432, SslMode::Prefer),
        SourceKind::Redshift => (5439, SslMode::VerifyFull),
    };
    let mut reader = Reader {
        map,
        violations: Vec::new(),
    };
    let host = reader.host();
    let port = reader.port(default_port);
    let database = reader.required("database", limits::NAME);
    let user = reader.required("username", limits::NAME);
    let password = reader.string("password", true, false, limits::PASSWORD);
    let ssl_mode = reader.ssl_mode(default_mode);
    let root_cert = reader.root_cert();
    let schema = match kind {
        SourceKind::Redshift => reader.string("schema", false, true, limits::NAME),
        SourceKind::Postgres => None,
    };
    if !reader.violations.is_empty() {
        return Err(reader.violations);
    }
    Ok(SourceConfig {
        kind,
        host: host.unwrap_or_default(),
        port,
        database: database.unwrap_or_default(),
        user: user.unwrap_or_default(),
        password: Secret::new(password.unwrap_or_default()),
        ssl_mode,
        root_cert,
        tls_server_name: None,
        schema,
    })
}

/// Reads basic-auth params, collecting a violation for each one it cannot use.
struct Reader<'a> {
    map: &'a Map<String, Value>,
    violations: Vec<Violation>,
}

impl Reader<'_> {
    fn fail(&mut self, name: &str, message: &str) {
        self.violations.push(Violation::new(pointer("", name), message));
    }

    fn required(&mut self, name: &str, max: usize) -> Option<String> {
        self.string(name, true, true, max)
    }

    /// `server`: a host name or an IP address (an IPv6 one without brackets).
    fn host(&mut self) -> Option<String> {
        let host = self.required("server", limits::HOST)?;
        if is_host(&host) || host.parse::<Ipv6Addr>().is_ok() {
            return Some(host);
        }
        self.fail("server", HOST_MESSAGE);
        None
    }

    fn string(&mut self, name: &str, required: bool, non_empty: bool, max: usize) -> Option<String> {
        match self.map.get(name) {
            None if required => self.fail(name, "is required"),
            None => {}
            Some(Value::String(text)) if non_empty && text.is_empty() => self.fail(name, "must not be empty"),
            // Counted in bytes first: a huge value is refused without walking it.
            Some(Value::String(text)) if text.len() > max * 4 || text.chars().count() > max => {
                self.fail(name, &limits::too_long(max))
            }
            Some(Value::String(text)) => return Some(text.clone()),
            Some(_) => self.fail(name, "must be a string"),
        }
        None
    }

    fn port(&mut self, default: u16) -> u16 {
        let port = match self.map.get("port") {
            None => return default,
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
            Some(_) => None,
        };
        match port.and_then(|p| u16::try_from(p).ok()).filter(|&p| p != 0) {
            Some(port) => port,
            None => {
                self.fail("port", PORT_MESSAGE);
                default
            }
        }
    }

    fn ssl_mode(&mut self, default: SslMode) -> SslMode {
        let Some(value) = self.map.get("sslMode") else {
            return default;
        };
        SslMode::parse(value).unwrap_or_else(|message| {
            self.fail("sslMode", &message);
            default
        })
    }

    fn root_cert(&mut self) -> Option<RootCert> {
        let text = self.string("sslRootCert", false, false, limits::PEM)?;
        if is_pem(&text) {
            Some(RootCert::Pem(text))
        } else {
            self.fail("sslRootCert", PEM_MESSAGE);
            None
        }
    }
}

#[cfg(test)]
mod tests;
