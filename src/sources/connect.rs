//! Opening a session on a source database (PostgreSQL or Redshift) with libpq's
//! `sslmode` semantics, and classifying why it failed.
//!
//! # The modes
//!
//! - `Disable`: plain text only.
//! - `Allow`: plain text first; when the server rejects an unencrypted connection
//!   (pg_hba.conf has no entry for it: SQLSTATE 28000), once more with TLS.
//! - `Prefer`: TLS when the server offers it, plain text when it does not; when the TLS
//!   handshake fails, or the server rejects the encrypted connection (28000), once more
//!   in plain text.
//! - `Require`: TLS; the certificate is not verified.
//! - `Verify-Ca`: TLS; the chain must lead to a trusted CA; the host name is not checked.
//! - `Verify-Full`: TLS; chain and host name are verified. The name is `tls_server_name`
//!   when set (the connection still goes to the address of `host`), else `host`.
//!
//! As in libpq, a configured root certificate makes `Allow`, `Prefer` and `Require`
//! verify the chain as `Verify-Ca` does; `Prefer` then falls back to plain text when
//! the chain is not trusted, as libpq's does.
//!
//! # Deliberate differences from libpq
//!
//! - Without a root certificate, `Verify-Ca` and `Verify-Full` trust the system's CA
//!   certificates (libpq fails unless `sslrootcert=system`, which it allows only with
//!   `verify-full`). `~/.postgresql/root.crt` is never read.
//! - `Allow` and `Prefer` retry only after a 28000 rejection (and `Prefer` after a failed
//!   handshake); libpq retries after any error the server reports during startup, which
//!   for a wrong password or a missing database only repeats a failed login.
//! - When both attempts fail, one error is reported: the retry's, unless it is a
//!   rejection or a missing TLS, which say less than the first attempt's error.
//! - The addresses `host` resolves to are tried in order until one answers; an answer
//!   (even a refusal to log in) ends the search, where libpq would try the next one.
//! - `connect_timeout` bounds the whole connect (DNS, TCP, TLS, login, the retry and the
//!   session settings); libpq's bounds each address's attempt, and at least 2 s.
//! - Host names are matched against the certificate's subjectAltNames only (rustls);
//!   libpq falls back to the common name when there is no DNS subjectAltName.
//! - TLS 1.2 and 1.3 only; no client certificates, CRLs, `sslnegotiation=direct` or
//!   GSSAPI encryption.
//!
//! # Where a connect may go
//!
//! `options.egress` judges the host before it is resolved and every address after, and
//! the attempts dial only those checked addresses (see [`crate::sources::egress`]);
//! `TrustStore` paths are read only from `options.trust_store_dir`
//! ([`crate::sources::trust_file`]).
//!
//! Error messages are built from classified parts (host, port, database, user, the
//! server's message for a SQLSTATE), never from a driver error's text as a whole, and
//! never contain the password.

use crate::secret::MASK;
use crate::sources::config::SourceConfig;
use crate::sources::egress::EgressPolicy;
use crate::sources::error::{SourceError, SourceErrorKind};
use crate::sources::ssl_mode::SslMode;
use crate::sources::tls::{self, Handshake, TlsConnector, Verification};
use classify::Target;
use rustls::ClientConfig;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres::{Client, NoTls, Socket};

mod classify;
#[cfg(test)]
mod tests;

/// How to open a session, beyond what the connection's config says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Bound on the whole connect: DNS, TCP, TLS, login, a retry, session settings.
    pub connect_timeout: Duration,
    /// `statement_timeout` of the session; `None` keeps the server's setting.
    pub statement_timeout: Option<Duration>,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
    /// Which destinations sources may be on; checked before and after DNS resolution.
    pub egress: Arc<EgressPolicy>,
    /// The only directory `TrustStore` paths may name files in; `None`: no paths.
    pub trust_store_dir: Option<PathBuf>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            statement_timeout: Some(Duration::from_secs(30)),
            application_name: "inlet".to_string(),
            egress: Arc::new(EgressPolicy::default()),
            trust_store_dir: None,
        }
    }
}

/// An open session; dropping it closes the connection (aborts the driver task).
pub struct SourceSession {
    client: Client,
    driver: JoinHandle<()>,
    encrypted: bool,
}

impl SourceSession {
    /// The client to run statements with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// True when the session runs over TLS.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }
}

impl Drop for SourceSession {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl std::fmt::Debug for SourceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSession")
            .field("encrypted", &self.encrypted)
            .finish_non_exhaustive()
    }
}

/// Opens a session on the source database of `config`, with libpq's meaning of its
/// `ssl_mode` (see the module documentation), within `options.connect_timeout`.
pub async fn connect(config: &SourceConfig, options: &ConnectOptions) -> Result<SourceSession, SourceError> {
    let target = Target::of(config);
    let bounded = tokio::time::timeout(options.connect_timeout, connect_unbounded(config, options, &target));
    let result = match bounded.await {
        Ok(result) => result,
        Err(_) => Err(target.timed_out(options.connect_timeout)),
    };
    result.map_err(|error| redact(error, config.password.expose()))
}

async fn connect_unbounded(
    config: &SourceConfig,
    options: &ConnectOptions,
    target: &Target<'_>,
) -> Result<SourceSession, SourceError> {
    options.egress.check_host(target.host)?;
    let tls = match Verification::for_mode(config.ssl_mode, config.root_cert.is_some()) {
        Some(verification) => {
            target.check_tls_name()?;
            let trust_dir = options.trust_store_dir.as_deref();
            Some(tls::client_config(verification, config.root_cert.as_ref(), trust_dir).await?)
        }
        None => None,
    };
    let addrs = resolve(target).await?;
    let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
    options.egress.check_resolved(target.host, &ips)?;
    // Every attempt dials one of these checked addresses (`hostaddr`), never the name.
    let dialer = Dialer {
        config,
        options,
        target,
        addrs,
    };
    let session = match (config.ssl_mode, &tls) {
        (_, None) => dialer.dial(None).await,
        (SslMode::Allow, Some(tls)) => dialer.allow(tls).await,
        (SslMode::Prefer, Some(tls)) => dialer.prefer(tls).await,
        (_, Some(tls)) => dialer.dial(Some((tls, WireMode::Require))).await,
    };
    let session = session.map_err(|failure| failure.error)?;
    if let Some(timeout) = options.statement_timeout {
        let sql = format!("SET statement_timeout TO {}", statement_timeout_ms(timeout));
        let set = session.client.batch_execute(&sql).await;
        set.map_err(|e| SourceError::from_query(&e, "setting statement_timeout"))?;
    }
    Ok(session)
}

/// Milliseconds for `SET statement_timeout`: a non-zero duration never becomes 0
/// (which would mean no timeout), and PostgreSQL takes at most `i32::MAX`.
fn statement_timeout_ms(timeout: Duration) -> u128 {
    match timeout.as_millis() {
        0 if !timeout.is_zero() => 1,
        ms => ms.min(i32::MAX as u128),
    }
}

/// Defence in depth: the messages are built without the password, but a server's text
/// or a misplaced setting could still carry it. Short passwords are left alone, as
/// masking every occurrence of a few common letters would reveal them instead.
fn redact(mut error: SourceError, password: &str) -> SourceError {
    if password.len() >= 4 && error.message.contains(password) {
        error.message = error.message.replace(password, MASK);
    }
    error
}

async fn resolve(target: &Target<'_>) -> Result<Vec<SocketAddr>, SourceError> {
    let found = tokio::net::lookup_host((target.host, target.port)).await;
    match found.map(|addrs| addrs.collect::<Vec<_>>()) {
        Ok(addrs) if !addrs.is_empty() => Ok(addrs),
        Ok(_) => Err(target.host_not_found("it has no addresses")),
        Err(e) => Err(target.host_not_found(&e.to_string())),
    }
}

/// A failed attempt, with what decides the retries: how far its TLS handshake got and
/// the server's SQLSTATE.
struct Failure {
    error: SourceError,
    handshake: Handshake,
    sqlstate: Option<String>,
}

impl Failure {
    /// The server's access rules turned the connection away (28000, not a bad password).
    fn rejected(&self) -> bool {
        self.error.kind == SourceErrorKind::ConnectionRejected && self.sqlstate.as_deref() == Some("28000")
    }
}

/// TLS for an attempt: the config and whether TLS is optional (`Prefer`) or required.
type Tls<'a> = Option<(&'a ClientConfig, WireMode)>;

struct Dialer<'a> {
    config: &'a SourceConfig,
    options: &'a ConnectOptions,
    target: &'a Target<'a>,
    addrs: Vec<SocketAddr>,
}

impl Dialer<'_> {
    async fn allow(&self, tls: &ClientConfig) -> Result<SourceSession, Failure> {
        let first = match self.dial(None).await {
            Err(failure) if failure.rejected() => failure,
            done => return done,
        };
        tracing::debug!(
            host = self.target.host,
            port = self.target.port,
            "Allow: plain text rejected, trying TLS"
        );
        self.dial(Some((tls, WireMode::Require)))
            .await
            .map_err(|retry| pick(first, retry, &[SourceErrorKind::TlsNotSupported]))
    }

    async fn prefer(&self, tls: &ClientConfig) -> Result<SourceSession, Failure> {
        let first = match self.dial(Some((tls, WireMode::Prefer))).await {
            Err(failure) if retry_plain(&failure) => failure,
            done => return done,
        };
        let (host, port, code) = (self.target.host, self.target.port, first.error.kind.code());
        tracing::debug!(host, port, code, "Prefer: TLS failed, trying plain text");
        self.dial(None).await.map_err(|retry| pick(first, retry, &[]))
    }

    /// Tries the addresses in order until one answers.
    async fn dial(&self, tls: Tls<'_>) -> Result<SourceSession, Failure> {
        let mut last = None;
        for addr in &self.addrs {
            match self.dial_one(addr.ip(), tls).await {
                Err(failure) if failure.error.kind == SourceErrorKind::ConnectionRefused => last = Some(failure),
                done => return done,
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    async fn dial_one(&self, ip: IpAddr, tls: Tls<'_>) -> Result<SourceSession, Failure> {
        let mut pg = tokio_postgres::Config::new();
        pg.host(self.target.tls_name).hostaddr(ip).port(self.target.port);
        pg.dbname(&self.config.database).user(&self.config.user);
        pg.password(self.config.password.expose());
        pg.application_name(&self.options.application_name);
        let Some((tls, mode)) = tls else {
            pg.ssl_mode(WireMode::Disable);
            return self.start(pg.connect(NoTls).await, Handshake::NotTried);
        };
        pg.ssl_mode(mode);
        let connector = TlsConnector::new(tls);
        let result = pg.connect(connector.clone()).await;
        self.start(result, connector.handshake())
    }

    /// Spawns the driver of a new connection, or classifies why there is none.
    fn start<T>(
        &self,
        result: Result<(Client, tokio_postgres::Connection<Socket, T>), tokio_postgres::Error>,
        handshake: Handshake,
    ) -> Result<SourceSession, Failure>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        match result {
            Ok((client, connection)) => Ok(SourceSession {
                client,
                driver: tokio::spawn(async move {
                    // Its errors reach the client as failed queries.
                    let _ = connection.await;
                }),
                encrypted: handshake == Handshake::Established,
            }),
            Err(error) => Err(Failure {
                error: self.target.classify(&error, handshake),
                handshake,
                sqlstate: error.code().map(|code| code.code().to_string()),
            }),
        }
    }
}

/// `Prefer` retries in plain text when the handshake failed or the server's access rules
/// rejected the encrypted connection.
fn retry_plain(failure: &Failure) -> bool {
    match failure.handshake {
        Handshake::Started => true,
        Handshake::Established => failure.rejected(),
        Handshake::NotTried => false,
    }
}

/// The error to report when a retry failed too: the retry's, unless it only says the
/// server rejected it (or one of `also_first`), when the first says more.
fn pick(first: Failure, retry: Failure, also_first: &[SourceErrorKind]) -> Failure {
    let kind = retry.error.kind;
    if kind == SourceErrorKind::ConnectionRejected || also_first.contains(&kind) {
        first
    } else {
        retry
    }
}
