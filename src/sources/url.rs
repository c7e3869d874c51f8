//! The `--source` of `inlet copy`: a PostgreSQL URL (`postgres://user:pw@host:5432/db?sslmode=verify-full`)
//! or the connection-string grammar of the PostgreSQL connection spec
//! (`Server=...;Database=...;UID=...;Password=...`). Both become one [`SourceConfig`].

use serde_json::json;

use super::config::{RootCert, SourceConfig};
use super::ssl_mode::SslMode;
use super::trust_file;
use crate::secret::Secret;
use crate::specs::{CONNECTION_STRING_AUTH, SourceKind};

/// Why a `--source` could not be read. Never carries the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--source {0}")]
pub struct SourceArgError(String);

/// Parses a PostgreSQL URL or a connection string.
/// A root certificate given as a path is read here, once, as the operator's own file
/// (see [`trust_file::read_local`]), so the connect needs no trust store directory.
pub fn parse_source(text: &Secret) -> Result<SourceConfig, SourceArgError> {
    let mut config = parse_config(text)?;
    if let Some(RootCert::Path(path)) = &config.root_cert {
        let pem = trust_file::read_local(path)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                SourceArgError(format!(
                    "names the CA file `{}`, which is not a readable regular file of at most {} KiB of PEM text",
                    path.display(),
                    trust_file::MAX_FILE_BYTES / 1024
                ))
            })?;
        config.root_cert = Some(RootCert::Pem(pem));
    }
    Ok(config)
}

fn parse_config(text: &Secret) -> Result<SourceConfig, SourceArgError> {
    let value = text.expose().trim();
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        return parse_url(value);
    }
    SourceConfig::from_auth(
        SourceKind::Postgres,
        CONNECTION_STRING_AUTH,
        &json!({"connectionString": value}),
    )
    .map_err(|violations| {
        let reasons: Vec<String> = violations.into_iter().map(|v| v.message).collect();
        SourceArgError(format!(
            "is neither a postgres:// URL nor a valid connection string: {}",
            reasons.join("; ")
        ))
    })
}

fn parse_url(text: &str) -> Result<SourceConfig, SourceArgError> {
    let url = url::Url::parse(text).map_err(|e| SourceArgError(format!("is not a valid URL: {e}")))?;
    let decode = |s: &str| percent_decode(s);
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| SourceArgError("needs a host".into()))?;
    let database = url.path().trim_start_matches('/');
    if database.is_empty() {
        return Err(SourceArgError(
            "needs a database: postgres://user@host:5432/<database>".into(),
        ));
    }
    if url.username().is_empty() {
        return Err(SourceArgError(
            "needs a user: postgres://<user>:<password>@host/db".into(),
        ));
    }
    let mut config = SourceConfig {
        kind: SourceKind::Postgres,
        host: host.trim_start_matches('[').trim_end_matches(']').to_string(),
        port: url.port().unwrap_or(5432),
        database: decode(database),
        user: decode(url.username()),
        password: Secret::new(url.password().map(decode).unwrap_or_default()),
        ssl_mode: SslMode::Prefer,
        root_cert: None,
        tls_server_name: None,
        schema: None,
    };
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "sslmode" => {
                config.ssl_mode = SslMode::parse_str(&value)
                    .ok_or_else(|| SourceArgError(format!("sslmode `{value}` is not one of {}", SslMode::ALLOWED)))?;
            }
            "sslrootcert" => config.root_cert = Some(RootCert::Path(value.as_ref().into())),
            other => {
                return Err(SourceArgError(format!(
                    "has an unknown parameter `{other}`; allowed: sslmode, sslrootcert"
                )));
            }
        }
    }
    Ok(config)
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SourceConfig, SourceArgError> {
        parse_source(&Secret::new(text))
    }

    #[test]
    fn urls_and_connection_strings_give_one_config() {
        let from_url = parse("postgres://reader:p%40ss+w@db.local:6543/shop?sslmode=verify-full").unwrap();
        assert_eq!(
            (from_url.host.as_str(), from_url.port, from_url.database.as_str()),
            ("db.local", 6543, "shop")
        );
        assert_eq!(
            (from_url.user.as_str(), from_url.password.expose()),
            ("reader", "p@ss+w")
        );
        assert_eq!(from_url.ssl_mode, SslMode::VerifyFull);
        let from_string = parse("Server=db.local;Port=6543;Database=shop;UID=reader;Password=x").unwrap();
        assert_eq!((from_string.host.as_str(), from_string.port), ("db.local", 6543));
        assert_eq!(parse("postgresql://u@[::1]/d").unwrap().host, "::1");
    }

    #[test]
    fn a_root_certificate_path_is_read_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let url = format!("postgres://u:p@h/d?sslrootcert={}", path.display());
        let pem = RootCert::Pem("-----BEGIN CERTIFICATE-----\n".into());
        assert_eq!(parse(&url).unwrap().root_cert, Some(pem));
        let missing = format!("postgres://u:hunter2@h/d?sslrootcert={}", dir.path().display());
        let error = parse(&missing).unwrap_err().to_string();
        assert!(
            error.contains("not a readable regular file") && !error.contains("hunter2"),
            "{error}"
        );
    }

    #[test]
    fn bad_sources_are_explained_without_the_password() {
        for (text, expected) in [
            ("postgres://u:hunter2@h/d?sslmode=sometimes", "sslmode"),
            ("postgres://u:hunter2@h/", "database"),
            ("postgres://u:hunter2@h/d?opts=1", "opts"),
            ("Server=h;Prot=1;Database=d;UID=u;Password=hunter2", "Prot"),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("hunter2"), "{text}: {error}");
        }
    }
}
