//! Connecting to source databases (`sources::connect`) against real PostgreSQL servers:
//! every sslMode with libpq's meaning, the connection-string modes, session settings,
//! and the classification of failures. No failure message may contain a password.

use crate::common::pg::{Auth, PgOptions, PgServer, User, free_port};
use inlet::secret::Secret;
use inlet::sources::config::{RootCert, SourceConfig};
use inlet::sources::connect::{ConnectOptions, SourceSession, connect};
use inlet::sources::ssl_mode::SslMode;
use inlet::sources::{SourceError, SourceErrorKind as Kind};
use inlet::specs::SourceKind;
use serde_json::json;
use std::time::{Duration, Instant};

/// Part of every password in these tests; no error message may contain it.
const SENTINEL: &str = "Sentinel-7f3a9c";

fn password(user: &str) -> String {
    format!("{user}-{SENTINEL}")
}

fn source(host: &str, port: u16, user: &str, mode: SslMode) -> SourceConfig {
    SourceConfig {
        kind: SourceKind::Postgres,
        host: host.to_string(),
        port,
        database: "postgres".to_string(),
        user: user.to_string(),
        password: Secret::new(password(user)),
        ssl_mode: mode,
        root_cert: None,
        tls_server_name: None,
        schema: None,
    }
}

fn with_root(mut config: SourceConfig, pem: &str) -> SourceConfig {
    config.root_cert = Some(RootCert::Pem(pem.to_string()));
    config
}

fn from_connection_string(text: &str) -> SourceConfig {
    let params = json!({ "connectionString": text });
    SourceConfig::from_auth(SourceKind::Postgres, "Connection String Based Authentication", &params)
        .unwrap_or_else(|violations| panic!("{violations:?}"))
}

async fn opens(config: &SourceConfig) -> SourceSession {
    let opened = connect(config, &ConnectOptions::default()).await;
    let session = opened.unwrap_or_else(|e| panic!("{} to {}: {e}", config.ssl_mode, config.host));
    let row = session.client().query_one("SELECT current_user", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), config.user);
    session
}

async fn encrypted(config: &SourceConfig) -> bool {
    opens(config).await.is_encrypted()
}

/// Connects expecting a failure of `kind`, and checks its text holds no password.
async fn fails_with(config: &SourceConfig, options: &ConnectOptions, kind: Kind) -> SourceError {
    let error = connect(config, options).await.expect_err("the connect should fail");
    assert_eq!(error.kind, kind, "{} to {}: {error}", config.ssl_mode, config.host);
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains(SENTINEL) && !text.contains(config.password.expose()),
        "{text}"
    );
    error
}

async fn fails(config: &SourceConfig, kind: Kind) -> SourceError {
    fails_with(config, &ConnectOptions::default(), kind).await
}

/// A CA of its own, unrelated to any test server's.
fn foreign_ca() -> String {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Some other CA");
    ca.self_signed(&key).unwrap().pem()
}

#[tokio::test]
async fn plain_server_scram_and_md5_logins_and_their_failures() {
    let users = vec![
        User::new("alice", &password("alice"), Auth::Scram),
        User::new("bob", &password("bob"), Auth::Md5),
    ];
    let pg = PgServer::start(PgOptions {
        users,
        ..Default::default()
    });
    let at = |user: &str, mode| source(pg.host(), pg.port(), user, mode);
    for user in ["alice", "bob"] {
        for mode in [SslMode::Disable, SslMode::Allow, SslMode::Prefer] {
            assert!(!encrypted(&at(user, mode)).await, "{user} {mode}");
        }
        let mut wrong = at(user, SslMode::Prefer);
        wrong.password = Secret::new(password("wrong"));
        let error = fails(&wrong, Kind::AuthenticationFailed).await;
        assert!(error.message.contains(&format!("user `{user}`")), "{error}");
    }

    let mut missing = at("alice", SslMode::Disable);
    missing.database = "no_such_db".to_string();
    let error = fails(&missing, Kind::DatabaseNotFound).await;
    assert!(error.message.contains("`no_such_db`"), "{error}");

    for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
        let error = fails(&at("alice", mode), Kind::TlsNotSupported).await;
        let expected = format!(
            "the server at 127.0.0.1:{} does not offer TLS: use Prefer or Disable",
            pg.port()
        );
        assert!(error.message.starts_with(&expected), "{error}");
    }

    pg.create_database("closed");
    pg.psql("postgres", "REVOKE CONNECT ON DATABASE closed FROM PUBLIC");
    let mut closed = at("bob", SslMode::Disable);
    closed.database = "closed".to_string();
    let error = fails(&closed, Kind::PermissionDenied).await;
    assert!(error.message.contains("CONNECT"), "{error}");
}

#[tokio::test]
async fn statement_timeout_and_application_name_are_applied() {
    let pg = PgServer::start(PgOptions::default());
    let (user, superuser_password) = pg.superuser();
    let mut config = source(pg.host(), pg.port(), user, SslMode::Disable);
    config.password = Secret::new(superuser_password);
    let show = |session: SourceSession, setting: &'static str| async move {
        let row = session
            .client()
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .unwrap();
        row.get::<_, String>(0)
    };
    let defaults = ConnectOptions::default();
    assert_eq!(
        show(connect(&config, &defaults).await.unwrap(), "statement_timeout").await,
        "30s"
    );
    assert_eq!(
        show(connect(&config, &defaults).await.unwrap(), "application_name").await,
        "inlet"
    );

    let custom = ConnectOptions {
        statement_timeout: Some(Duration::from_millis(1500)),
        application_name: "inlet-test".to_string(),
        ..ConnectOptions::default()
    };
    assert_eq!(
        show(connect(&config, &custom).await.unwrap(), "statement_timeout").await,
        "1500ms"
    );
    assert_eq!(
        show(connect(&config, &custom).await.unwrap(), "application_name").await,
        "inlet-test"
    );
    let untouched = ConnectOptions {
        statement_timeout: None,
        ..ConnectOptions::default()
    };
    assert_eq!(
        show(connect(&config, &untouched).await.unwrap(), "statement_timeout").await,
        "0"
    );
}

#[tokio::test]
async fn closed_port_is_connection_refused() {
    let config = source("127.0.0.1", free_port(), "nobody", SslMode::Prefer);
    let error = fails(&config, Kind::ConnectionRefused).await;
    assert!(error.message.contains(&format!("127.0.0.1:{}", config.port)), "{error}");
}

#[tokio::test]
async fn silent_server_times_out_within_the_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts, holds every connection open, and never says a word.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let options = ConnectOptions {
        connect_timeout: Duration::from_secs(1),
        ..ConnectOptions::default()
    };
    for mode in [SslMode::Disable, SslMode::Require] {
        let started = Instant::now();
        let error = fails_with(&source("127.0.0.1", port, "u", mode), &options, Kind::TimedOut).await;
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        assert!(error.message.contains("within 1s"), "{error}");
    }
}

#[tokio::test]
async fn unresolvable_host_is_host_not_found() {
    let error = fails(
        &source("no-such-host.invalid", 5432, "u", SslMode::Require),
        Kind::HostNotFound,
    )
    .await;
    assert!(error.message.contains("`no-such-host.invalid`"), "{error}");
}

#[tokio::test]
async fn tls_only_server_every_mode() {
    let users = vec![User::new("carol", &password("carol"), Auth::Scram)];
    let pg = PgServer::start(PgOptions {
        tls: true,
        hostssl_only: true,
        users,
        ..Default::default()
    });
    let ca = pg.ca_pem().expect("CA").to_string();
    let at = |host: &str, mode| source(host, pg.port(), "carol", mode);
    let trusting = |host: &str, mode| with_root(at(host, mode), &ca);

    assert!(encrypted(&trusting("localhost", SslMode::VerifyFull)).await);
    let error = fails(&trusting("127.0.0.1", SslMode::VerifyFull), Kind::HostNameMismatch).await;
    let expected = "the server's certificate is not valid for `127.0.0.1` (it names localhost): connect by the \
                    name in its certificate, set HostNameInCertificate, or use Verify-Ca";
    assert_eq!(error.message, expected);
    let mut named = trusting("127.0.0.1", SslMode::VerifyFull);
    named.tls_server_name = Some("localhost".to_string());
    assert!(encrypted(&named).await);
    assert!(encrypted(&trusting("127.0.0.1", SslMode::VerifyCa)).await);

    // Without a root certificate the system's CAs are trusted, and none issued this one.
    fails(&at("localhost", SslMode::VerifyFull), Kind::CertificateNotTrusted).await;
    fails(&at("127.0.0.1", SslMode::VerifyCa), Kind::CertificateNotTrusted).await;
    assert!(encrypted(&at("127.0.0.1", SslMode::Require)).await);
    // As in libpq, a root certificate makes Require verify the chain.
    fails(
        &with_root(at("127.0.0.1", SslMode::Require), &foreign_ca()),
        Kind::CertificateNotTrusted,
    )
    .await;

    let error = fails(&trusting("127.0.0.1", SslMode::Disable), Kind::ConnectionRejected).await;
    assert!(error.message.contains("no pg_hba.conf entry"), "{error}");
    for mode in [SslMode::Allow, SslMode::Prefer] {
        assert!(encrypted(&at("127.0.0.1", mode)).await, "{mode}");
        assert!(encrypted(&trusting("localhost", mode)).await, "{mode}");
    }
    // Prefer retries in plain text after an untrusted chain; the server rejects that, and
    // the error reported is the one that says what to fix.
    fails(
        &with_root(at("127.0.0.1", SslMode::Prefer), &foreign_ca()),
        Kind::CertificateNotTrusted,
    )
    .await;

    let mut wrong = trusting("localhost", SslMode::VerifyFull);
    wrong.password = Secret::new(password("wrong"));
    fails(&wrong, Kind::AuthenticationFailed).await;
}

#[tokio::test]
async fn tls_optional_server_prefer_and_allow_follow_libpq() {
    let users = vec![User::new("erin", &password("erin"), Auth::Md5)];
    let pg = PgServer::start(PgOptions {
        tls: true,
        users,
        ..Default::default()
    });
    let at = |mode| source("127.0.0.1", pg.port(), "erin", mode);
    assert!(encrypted(&at(SslMode::Prefer)).await);
    assert!(!encrypted(&at(SslMode::Allow)).await);
    assert!(!encrypted(&at(SslMode::Disable)).await);
    // A chain that does not verify makes Prefer fall back to plain text, as libpq does.
    assert!(!encrypted(&with_root(at(SslMode::Prefer), &foreign_ca())).await);
}

#[tokio::test]
async fn connection_strings_behave_as_their_libpq_modes() {
    let users = vec![User::new("dave", &password("dave"), Auth::Scram)];
    let plain = PgServer::start(PgOptions {
        users: users.clone(),
        ..Default::default()
    });
    let tls = PgServer::start(PgOptions {
        tls: true,
        hostssl_only: true,
        users,
        ..Default::default()
    });
    let dave = password("dave");
    let at = |host: &str, port: u16, extra: &str| {
        from_connection_string(&format!(
            "Server={host};Port={port};Database=postgres;UID=dave;Password={dave};{extra}"
        ))
    };
    // TrustStore paths are tested with the trust store directory in tests/it/security.
    let trust_store = tls.ca_pem().expect("CA PEM");
    let verify_full = format!("EncryptionMethod=1;ValidateServerCertificate=1;TrustStore={{{trust_store}}}");
    let config = at("localhost", tls.port(), &verify_full);
    assert_eq!(config.ssl_mode, SslMode::VerifyFull);
    assert!(encrypted(&config).await);
    fails(&at("127.0.0.1", tls.port(), &verify_full), Kind::HostNameMismatch).await;
    let named = format!("{verify_full};HostNameInCertificate=localhost");
    assert!(encrypted(&at("127.0.0.1", tls.port(), &named)).await);

    let prefer = at("127.0.0.1", plain.port(), "EncryptionMethod=6");
    assert_eq!(prefer.ssl_mode, SslMode::Prefer);
    assert!(!encrypted(&prefer).await);
    assert!(encrypted(&at("127.0.0.1", tls.port(), "EncryptionMethod=6")).await);

    let require = "EncryptionMethod=1;ValidateServerCertificate=0";
    assert!(encrypted(&at("127.0.0.1", tls.port(), require)).await);
    fails(&at("127.0.0.1", plain.port(), require), Kind::TlsNotSupported).await;
    fails(
        &at("127.0.0.1", tls.port(), "EncryptionMethod=0"),
        Kind::ConnectionRejected,
    )
    .await;
}
