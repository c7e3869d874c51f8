//! Failures of a source database, classified so that a user knows what to change.
//!
//! Messages are built from classified parts (host, port, database, user, SQLSTATE
//! message) and never from a driver's error text as a whole, which could carry a DSN.

use std::fmt;

/// What kind of failure a source reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// The host name does not resolve.
    HostNotFound,
    /// Nothing listens on that host and port.
    ConnectionRefused,
    /// The server did not answer within the bound.
    TimedOut,
    /// TLS was required but the server does not offer it.
    TlsNotSupported,
    /// The TLS handshake failed for a reason other than the certificate.
    TlsHandshakeFailed,
    /// The server's certificate chain does not lead to a trusted CA.
    CertificateNotTrusted,
    /// The certificate is valid but not for the host name connected to.
    HostNameMismatch,
    /// The configured CA certificates (sslRootCert, TrustStore) cannot be read or used.
    RootCertInvalid,
    /// Wrong user name or password.
    AuthenticationFailed,
    /// The server's access rules (pg_hba.conf) reject this client, user, database or
    /// encryption choice.
    ConnectionRejected,
    /// The database does not exist.
    DatabaseNotFound,
    /// The user may not do this (connect, read the table).
    PermissionDenied,
    /// The table or view does not exist (or is not visible to the user).
    TableNotFound,
    /// A column asked for (to read, or to filter a window on) is not in the table, or
    /// the user may not read it.
    ColumnNotFound,
    /// A value or type that Inlet cannot represent exactly.
    Unsupported,
    /// The connection broke while in use.
    ConnectionLost,
    /// Any other failure of a query.
    QueryFailed,
    /// The operator's egress policy does not let sources be on that host or network.
    DestinationRefused,
}

impl SourceErrorKind {
    /// The stable code shown to API callers (`error.code` of a connection test).
    pub fn code(self) -> &'static str {
        match self {
            SourceErrorKind::HostNotFound => "HOST_NOT_FOUND",
            SourceErrorKind::ConnectionRefused => "CONNECTION_REFUSED",
            SourceErrorKind::TimedOut => "TIMED_OUT",
            SourceErrorKind::TlsNotSupported => "TLS_NOT_SUPPORTED",
            SourceErrorKind::TlsHandshakeFailed => "TLS_HANDSHAKE_FAILED",
            SourceErrorKind::CertificateNotTrusted => "CERTIFICATE_NOT_TRUSTED",
            SourceErrorKind::HostNameMismatch => "HOST_NAME_MISMATCH",
            SourceErrorKind::RootCertInvalid => "ROOT_CERT_INVALID",
            SourceErrorKind::AuthenticationFailed => "AUTHENTICATION_FAILED",
            SourceErrorKind::ConnectionRejected => "CONNECTION_REJECTED",
            SourceErrorKind::DatabaseNotFound => "DATABASE_NOT_FOUND",
            SourceErrorKind::PermissionDenied => "PERMISSION_DENIED",
            SourceErrorKind::TableNotFound => "TABLE_NOT_FOUND",
            SourceErrorKind::ColumnNotFound => "COLUMN_NOT_FOUND",
            SourceErrorKind::Unsupported => "UNSUPPORTED",
            SourceErrorKind::ConnectionLost => "CONNECTION_LOST",
            SourceErrorKind::QueryFailed => "QUERY_FAILED",
            SourceErrorKind::DestinationRefused => "DESTINATION_NOT_ALLOWED",
        }
    }

    /// True for failures worth retrying unchanged (the network, not the configuration).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            SourceErrorKind::TimedOut | SourceErrorKind::ConnectionLost | SourceErrorKind::ConnectionRefused
        )
    }
}

/// A classified source failure with a message a user can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    pub kind: SourceErrorKind,
    pub message: String,
}

impl SourceError {
    /// A failure of `kind` explained by `message`.
    pub fn new(kind: SourceErrorKind, message: impl Into<String>) -> SourceError {
        SourceError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for SourceError {}

impl SourceError {
    /// Classifies a failed query (not a failed connect) by its SQLSTATE. `what` names
    /// what was being done, e.g. "listing tables".
    pub fn from_query(error: &tokio_postgres::Error, what: &str) -> SourceError {
        let Some(db) = error.as_db_error() else {
            if error.is_closed() {
                return SourceError::new(
                    SourceErrorKind::ConnectionLost,
                    format!("the connection closed while {what}"),
                );
            }
            // A driver error's own text is not passed on: it is not built for users and
            // could carry details of the connection.
            return SourceError::new(
                SourceErrorKind::QueryFailed,
                format!("{what} failed: the exchange with the database failed"),
            );
        };
        let code = db.code().code();
        let kind = match code {
            "42P01" | "3F000" => SourceErrorKind::TableNotFound,
            "42501" => SourceErrorKind::PermissionDenied,
            "3D000" => SourceErrorKind::DatabaseNotFound,
            "28P01" => SourceErrorKind::AuthenticationFailed,
            "28000" => SourceErrorKind::ConnectionRejected,
            "57014" => SourceErrorKind::TimedOut,
            _ if code.starts_with("08") || code == "57P01" => SourceErrorKind::ConnectionLost,
            _ => SourceErrorKind::QueryFailed,
        };
        SourceError::new(kind, format!("{what} failed: {} (SQLSTATE {code})", db.message()))
    }
}
