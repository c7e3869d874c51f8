use super::*;
use crate::secret::Secret;
use crate::specs::SourceKind;
use rustls::CertificateError;
use rustls_pki_types::ServerName;
use std::error::Error as StdError;
use std::{fmt, io};

fn config(host: &str, tls_server_name: Option<&str>) -> SourceConfig {
    SourceConfig {
        kind: SourceKind::Postgres,
        host: host.to_string(),
        port: 5432,
        database: "shop".to_string(),
        user: "reader".to_string(),
        password: Secret::new("hunter2-pw"),
        ssl_mode: SslMode::VerifyFull,
        root_cert: None,
        tls_server_name: tls_server_name.map(str::to_string),
        schema: None,
    }
}

/// Stands in for a driver error: a fixed text and a source, like tokio_postgres::Error.
#[derive(Debug)]
struct Driver(&'static str, Option<Box<dyn StdError + Send + Sync>>);

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl StdError for Driver {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

fn driver_tls_error(error: CertificateError) -> Driver {
    let io = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::InvalidCertificate(error));
    Driver("error performing TLS handshake", Some(Box::new(io)))
}

fn driver_io_error(kind: io::ErrorKind) -> Driver {
    Driver("error connecting to server", Some(Box::new(io::Error::from(kind))))
}

#[test]
fn certificate_failures_found_through_the_source_chain() {
    let config = config("127.0.0.1", None);
    let target = Target::of(&config);
    let error = target.cause_error(&driver_tls_error(CertificateError::NotValidForName), Handshake::Started);
    assert_eq!(error.kind, SourceErrorKind::HostNameMismatch);
    assert!(
        error.message.starts_with(
            "the server's certificate is not valid for `127.0.0.1`: connect by the name in its certificate, \
             set HostNameInCertificate, or use Verify-Ca"
        ),
        "{}",
        error.message
    );
    for cause in [
        CertificateError::UnknownIssuer,
        CertificateError::BadSignature,
        CertificateError::Expired,
    ] {
        let error = target.cause_error(&driver_tls_error(cause), Handshake::Started);
        assert_eq!(error.kind, SourceErrorKind::CertificateNotTrusted, "{}", error.message);
        assert!(error.message.contains("127.0.0.1:5432"), "{}", error.message);
    }
}

#[test]
fn host_name_mismatch_names_the_name_verified_and_the_names_presented() {
    let config = config("10.0.0.5", Some("db.internal"));
    let target = Target::of(&config);
    let presented = vec![r#"DnsName("db.example.com")"#.to_string()];
    let expected = ServerName::try_from("db.internal").unwrap();
    let cause = CertificateError::NotValidForNameContext { expected, presented };
    let error = target.cause_error(&driver_tls_error(cause), Handshake::Started);
    assert_eq!(error.kind, SourceErrorKind::HostNameMismatch);
    assert!(
        error
            .message
            .contains("not valid for `db.internal` (it names db.example.com)"),
        "{}",
        error.message
    );
}

#[test]
fn network_failures_by_io_kind_and_handshake_progress() {
    let config = config("::1", None);
    let target = Target::of(&config);
    let classify = |kind, handshake| target.cause_error(&driver_io_error(kind), handshake);
    let refused = classify(io::ErrorKind::ConnectionRefused, Handshake::NotTried);
    assert_eq!(refused.kind, SourceErrorKind::ConnectionRefused);
    assert!(refused.message.contains("[::1]:5432"), "{}", refused.message);
    let timed_out = classify(io::ErrorKind::TimedOut, Handshake::NotTried);
    assert_eq!(timed_out.kind, SourceErrorKind::TimedOut);
    let reset_in_tls = classify(io::ErrorKind::ConnectionReset, Handshake::Started);
    assert_eq!(reset_in_tls.kind, SourceErrorKind::TlsHandshakeFailed);
    let reset_later = classify(io::ErrorKind::UnexpectedEof, Handshake::Established);
    assert_eq!(reset_later.kind, SourceErrorKind::ConnectionLost);
}

#[test]
fn driver_texts_are_recognised_but_not_repeated() {
    let config = config("db", None);
    let target = Target::of(&config);
    let no_tls = Driver(
        "error performing TLS handshake",
        Some("server does not support TLS".into()),
    );
    let error = target.cause_error(&no_tls, Handshake::NotTried);
    assert_eq!(error.kind, SourceErrorKind::TlsNotSupported);
    assert_eq!(
        error.message,
        "the server at db:5432 does not offer TLS: use Prefer or Disable, or enable ssl on the server"
    );
    let auth = Driver(
        "authentication error",
        Some("unsupported authentication method: GSS".into()),
    );
    assert_eq!(
        target.cause_error(&auth, Handshake::NotTried).kind,
        SourceErrorKind::AuthenticationFailed
    );
    let odd = Driver(
        "unexpected message from server",
        Some("postgres://u:hunter2@db/x".into()),
    );
    let error = target.cause_error(&odd, Handshake::NotTried);
    assert_eq!(error.kind, SourceErrorKind::ConnectionLost);
    assert!(!error.message.contains("hunter2") && !error.message.contains("unexpected message"));
}

#[test]
fn server_errors_by_sqlstate() {
    let config = config("db", None);
    let target = Target::of(&config);
    let cases = [
        (
            "28P01",
            "password authentication failed for user \"reader\"",
            SourceErrorKind::AuthenticationFailed,
        ),
        (
            "28000",
            "password authentication failed for user \"reader\"",
            SourceErrorKind::AuthenticationFailed,
        ),
        (
            "28000",
            "no pg_hba.conf entry for host \"1.2.3.4\", user \"reader\"",
            SourceErrorKind::ConnectionRejected,
        ),
        (
            "28000",
            "role \"reader\" is not permitted to log in",
            SourceErrorKind::ConnectionRejected,
        ),
        (
            "3D000",
            "database \"shop\" does not exist",
            SourceErrorKind::DatabaseNotFound,
        ),
        (
            "42501",
            "permission denied for database \"shop\"",
            SourceErrorKind::PermissionDenied,
        ),
        (
            "53300",
            "sorry, too many clients already",
            SourceErrorKind::ConnectionRefused,
        ),
        ("0A000", "feature not supported", SourceErrorKind::ConnectionRejected),
    ];
    for (code, message, kind) in cases {
        let error = target.server_error(code, message);
        assert_eq!(error.kind, kind, "{code} {message}");
        assert!(error.message.contains("db:5432"), "{}", error.message);
    }
    let rejected = target.server_error("28000", cases[2].1);
    assert!(rejected.message.contains("no pg_hba.conf entry") && rejected.message.contains("sslMode"));
    let denied = target.server_error("42501", cases[5].1);
    assert!(denied.message.contains("grant the user CONNECT"), "{}", denied.message);
}

#[test]
fn tls_names_that_no_certificate_can_carry_fail_early() {
    let bad = config("10.0.0.5", Some("/var/run/postgresql"));
    let error = Target::of(&bad).check_tls_name().unwrap_err();
    assert_eq!(error.kind, SourceErrorKind::HostNameMismatch);
    assert!(Target::of(&config("::1", None)).check_tls_name().is_ok());
    assert!(Target::of(&config("db.example.com", None)).check_tls_name().is_ok());
}

#[test]
fn statement_timeouts_in_milliseconds() {
    assert_eq!(statement_timeout_ms(Duration::from_secs(30)), 30_000);
    assert_eq!(statement_timeout_ms(Duration::from_micros(10)), 1);
    assert_eq!(statement_timeout_ms(Duration::ZERO), 0);
    assert_eq!(statement_timeout_ms(Duration::from_secs(u64::MAX)), i32::MAX as u128);
}

#[test]
fn redaction_masks_long_passwords_only() {
    let error = SourceError::new(
        SourceErrorKind::DatabaseNotFound,
        "database `hunter2-pw` does not exist",
    );
    assert_eq!(
        redact(error, "hunter2-pw").message,
        "database `<secret>` does not exist"
    );
    let error = SourceError::new(SourceErrorKind::DatabaseNotFound, "database `abc` does not exist");
    assert_eq!(redact(error, "a").message, "database `abc` does not exist");
}

#[test]
fn default_options() {
    let options = ConnectOptions::default();
    assert_eq!(options.connect_timeout, Duration::from_secs(10));
    assert_eq!(options.statement_timeout, Some(Duration::from_secs(30)));
    assert_eq!(options.application_name, "inlet");
}
