//! Where a connection's secrets are sent, and the two rules that keep them there:
//!
//! - A change of destination needs the secrets again. A patch that changes any part of
//!   where a stored secret would be sent (host, port, database, user, TLS mode, trust
//!   settings, the certificate's host name) and keeps a secret from the store instead of
//!   supplying it is refused, naming the secrets to enter again. A caller who never saw
//!   the password cannot point it at a listener of theirs.
//! - A destination must be one the operator allows: the egress policy's host and
//!   address rules (checked here without DNS, and again at every connect after it) and
//!   the trust store directory for `TrustStore` paths.

use super::{ConnectionError, ConnectionInput};
use crate::sources::config::{RootCert, SourceConfig};
use crate::sources::connect::ConnectOptions;
use crate::sources::ssl_mode::SslMode;
use crate::sources::tls::load_root_cert;
use crate::specs::validate::pointer;
use crate::specs::{CONNECTION_STRING_AUTH, ConnectionSpec, SpecCatalog, Violation};

/// The parts of a config that decide where its secrets go, each with the basic-auth
/// parameter that sets it.
fn parts(config: &SourceConfig) -> [(&'static str, Part<'_>); 7] {
    [
        ("server", Part::Name(&config.host)),
        ("port", Part::Port(config.port)),
        ("database", Part::Text(&config.database)),
        ("username", Part::Text(&config.user)),
        ("sslMode", Part::Mode(config.ssl_mode)),
        ("sslRootCert", Part::Root(config.root_cert.as_ref())),
        (
            "HostNameInCertificate",
            Part::Name(config.tls_server_name.as_deref().unwrap_or("")),
        ),
    ]
}

#[derive(Debug)]
enum Part<'a> {
    Name(&'a str),
    Port(u16),
    Text(&'a str),
    Mode(SslMode),
    Root(Option<&'a RootCert>),
}

impl PartialEq for Part<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Part::Name(a), Part::Name(b)) => a.eq_ignore_ascii_case(b),
            (Part::Port(a), Part::Port(b)) => a == b,
            (Part::Text(a), Part::Text(b)) => a == b,
            (Part::Mode(a), Part::Mode(b)) => a == b,
            (Part::Root(a), Part::Root(b)) => a == b,
            _ => false,
        }
    }
}

/// The refusal of a patch that moves kept secrets (`kept`: the secret fields it did not
/// supply) to another destination; `Ok` when nothing moved or every secret was given.
/// `old` is `None` when the stored config cannot be read: then every part counts as
/// changed.
pub fn check_redirect(old: Option<&SourceConfig>, new: &SourceConfig, kept: &[String]) -> Result<(), ConnectionError> {
    if kept.is_empty() {
        return Ok(());
    }
    let changed: Vec<&str> = match old {
        Some(old) => parts(old)
            .into_iter()
            .zip(parts(new))
            .filter(|((_, a), (_, b))| a != b)
            .map(|((name, _), _)| name)
            .collect(),
        None => parts(new).into_iter().map(|(name, _)| name).collect(),
    };
    if changed.is_empty() {
        return Ok(());
    }
    let changed = changed.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let violations = kept
        .iter()
        .map(|field| {
            Violation::new(
                pointer("", field),
                format!(
                    "must be given again in this request: it changes {changed}, which decides where the \
                     stored {field} is sent"
                ),
            )
        })
        .collect();
    Err(ConnectionError::SecretsRequired(violations))
}

/// The parsed config of a checked input (whose params passed the auth spec).
pub fn config_of(specs: &SpecCatalog, input: &ConnectionInput) -> Result<SourceConfig, ConnectionError> {
    let kind = specs
        .connection_spec(&input.spec_id)
        .and_then(ConnectionSpec::source_kind)
        .ok_or_else(|| ConnectionError::NotASource(input.spec_id.clone()))?;
    SourceConfig::from_auth(kind, &input.auth_spec, &input.params).map_err(ConnectionError::Invalid)
}

/// Refuses a destination the egress policy denies by its host as written, and a
/// `TrustStore` path the trust store directory rules refuse, as a connect would.
pub async fn check_allowed(
    config: &SourceConfig,
    auth_spec: &str,
    options: &ConnectOptions,
) -> Result<(), ConnectionError> {
    let at = |field: &str| match auth_spec {
        CONNECTION_STRING_AUTH => pointer("", "connectionString"),
        _ => pointer("", field),
    };
    let mut violations = Vec::new();
    if let Err(refused) = options.egress.check_host(&config.host) {
        violations.push(Violation::new(at("server"), refused.to_string()));
    }
    if let Some(root @ RootCert::Path(_)) = &config.root_cert {
        let dir = options.trust_store_dir.as_deref();
        if let Err(error) = load_root_cert(root, dir).await {
            violations.push(Violation::new(at("sslRootCert"), error.message));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ConnectionError::Invalid(violations))
    }
}

#[cfg(test)]
mod tests;
