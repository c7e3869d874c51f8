//! Why a connect failed, as a [`SourceError`] whose message says what to change. The
//! messages are assembled from the target's parts and the server's SQLSTATE message;
//! a driver error's own text is only inspected, never shown.

use crate::sources::config::SourceConfig;
use crate::sources::error::{SourceError, SourceErrorKind as Kind};
use crate::sources::tls::{self, Handshake, TlsFailure};
use rustls_pki_types::ServerName;
use std::error::Error as StdError;
use std::io;
use std::time::Duration;

/// What a connect is aimed at: the parts error messages are made of.
pub(super) struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
    /// The name the certificate must carry (and the SNI sent): `tls_server_name` or `host`.
    pub tls_name: &'a str,
}

impl<'a> Target<'a> {
    pub fn of(config: &'a SourceConfig) -> Target<'a> {
        Target {
            host: &config.host,
            port: config.port,
            database: &config.database,
            user: &config.user,
            tls_name: config.tls_server_name.as_deref().unwrap_or(&config.host),
        }
    }

    /// `host:port`, with an IPv6 address in brackets.
    fn endpoint(&self) -> String {
        match self.host.contains(':') {
            true => format!("[{}]:{}", self.host, self.port),
            false => format!("{}:{}", self.host, self.port),
        }
    }

    /// Fails early when the name to verify cannot be a TLS server name at all.
    pub fn check_tls_name(&self) -> Result<(), SourceError> {
        match ServerName::try_from(self.tls_name) {
            Ok(_) => Ok(()),
            Err(_) => Err(SourceError::new(
                Kind::HostNameMismatch,
                format!(
                    "`{}` is not a DNS name or IP address a certificate can be issued for: \
                     fix the server name or HostNameInCertificate",
                    self.tls_name
                ),
            )),
        }
    }

    pub fn timed_out(&self, bound: Duration) -> SourceError {
        let bound = humantime::format_duration(bound);
        let message = format!(
            "the server at {} did not complete the connection within {bound}: check the host, port and \
             firewalls, or allow a longer connect timeout",
            self.endpoint()
        );
        SourceError::new(Kind::TimedOut, message)
    }

    pub fn host_not_found(&self, reason: &str) -> SourceError {
        let message = format!(
            "the host name `{}` cannot be resolved ({reason}): check the server name",
            self.host
        );
        SourceError::new(Kind::HostNotFound, message)
    }

    /// Classifies a failed connect; `handshake` says how far TLS got.
    pub fn classify(&self, error: &tokio_postgres::Error, handshake: Handshake) -> SourceError {
        match error.as_db_error() {
            Some(db) => self.server_error(db.code().code(), db.message()),
            None => self.cause_error(error, handshake),
        }
    }

    /// An error the server sent during startup.
    pub fn server_error(&self, code: &str, message: &str) -> SourceError {
        let (endpoint, user, database) = (self.endpoint(), self.user, self.database);
        // Servers older than 9.0 (Redshift among them) report a bad password as 28000.
        let bad_password = code == "28P01" || message.starts_with("password authentication failed");
        if bad_password {
            let message = format!(
                "password authentication failed for user `{user}` at {endpoint}: check the user name and password"
            );
            return SourceError::new(Kind::AuthenticationFailed, message);
        }
        let (kind, message) = match code {
            "28000" if message.contains("pg_hba.conf") => (
                Kind::ConnectionRejected,
                format!(
                    "the server at {endpoint} rejected the connection ({message}): add a matching entry to \
                     its pg_hba.conf, or use an sslMode it accepts"
                ),
            ),
            "28000" => (
                Kind::ConnectionRejected,
                format!(
                    "the server at {endpoint} rejected user `{user}` ({message}): check the user's right to log in"
                ),
            ),
            "3D000" => (
                Kind::DatabaseNotFound,
                format!("database `{database}` does not exist at {endpoint}: check the database name"),
            ),
            "42501" => (
                Kind::PermissionDenied,
                format!(
                    "user `{user}` may not connect to database `{database}` at {endpoint} ({message}): grant the user CONNECT \
                     on the database"
                ),
            ),
            "57P03" | "53300" => (
                Kind::ConnectionRefused,
                format!("the server at {endpoint} cannot accept connections now ({message}): try again later"),
            ),
            _ => (
                Kind::ConnectionRejected,
                format!("the server at {endpoint} refused the session ({message}; SQLSTATE {code})"),
            ),
        };
        SourceError::new(kind, message)
    }

    /// A failure below the protocol's error messages: network, TLS, or the driver.
    pub fn cause_error(&self, error: &(dyn StdError + 'static), handshake: Handshake) -> SourceError {
        if let Some(tls) = tls::find_rustls_error(error) {
            return self.tls_failure(tls::classify(tls));
        }
        if let Some(io) = find_io_error(error) {
            return self.network_error(io.kind(), handshake);
        }
        let endpoint = self.endpoint();
        if handshake == Handshake::NotTried && chain(error).any(|e| e.to_string().contains("does not support TLS")) {
            let message = format!(
                "the server at {endpoint} does not offer TLS: use Prefer or Disable, or enable ssl on the server"
            );
            return SourceError::new(Kind::TlsNotSupported, message);
        }
        if error.to_string().starts_with("authentication error") {
            let message = format!(
                "logging in to {endpoint} failed: the server asked for an authentication method Inlet does not \
                 support, or its proof of the password was invalid"
            );
            return SourceError::new(Kind::AuthenticationFailed, message);
        }
        let message = format!(
            "the server at {endpoint} answered in a way Inlet does not understand: check that it is a PostgreSQL \
             or Redshift server"
        );
        SourceError::new(Kind::ConnectionLost, message)
    }

    fn tls_failure(&self, failure: TlsFailure) -> SourceError {
        let endpoint = self.endpoint();
        match failure {
            TlsFailure::NotTrusted(reason) => SourceError::new(
                Kind::CertificateNotTrusted,
                format!(
                    "the certificate of the server at {endpoint} is not trusted ({reason}): set sslRootCert \
                     (TrustStore) to the CA that issued it, or use Require without a root certificate to encrypt \
                     without verifying the server"
                ),
            ),
            TlsFailure::NameMismatch(names) => {
                let names = match names.is_empty() {
                    true => String::new(),
                    false => format!(" (it names {})", names.join(", ")),
                };
                SourceError::new(
                    Kind::HostNameMismatch,
                    format!(
                        "the server's certificate is not valid for `{}`{names}: connect by the name in its \
                         certificate, set HostNameInCertificate, or use Verify-Ca",
                        self.tls_name
                    ),
                )
            }
            TlsFailure::Handshake(reason) => SourceError::new(
                Kind::TlsHandshakeFailed,
                format!(
                    "the TLS handshake with {endpoint} failed ({reason}): check the server's TLS setup, or use \
                     Prefer or Disable"
                ),
            ),
        }
    }

    fn network_error(&self, kind: io::ErrorKind, handshake: Handshake) -> SourceError {
        let endpoint = self.endpoint();
        let (kind, message) = match kind {
            io::ErrorKind::ConnectionRefused => (
                Kind::ConnectionRefused,
                format!(
                    "nothing accepts connections at {endpoint}: check the host and port, and that the server \
                     listens on that address"
                ),
            ),
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => (
                Kind::ConnectionRefused,
                format!("{endpoint} cannot be reached ({kind}): check the host and the network to it"),
            ),
            io::ErrorKind::TimedOut => (
                Kind::TimedOut,
                format!("the connection to {endpoint} timed out: check the host, port and firewalls"),
            ),
            _ if handshake == Handshake::Started => (
                Kind::TlsHandshakeFailed,
                format!(
                    "the TLS handshake with {endpoint} broke off ({kind}): check the server's TLS setup, or use \
                     Prefer or Disable"
                ),
            ),
            _ => (
                Kind::ConnectionLost,
                format!(
                    "the connection to {endpoint} broke during startup ({kind}): check that it is a PostgreSQL or Redshift server"
                ),
            ),
        };
        SourceError::new(kind, message)
    }
}

fn chain<'a>(error: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

fn find_io_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    chain(error).find_map(|e| e.downcast_ref::<io::Error>())
}
