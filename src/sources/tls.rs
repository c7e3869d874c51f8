//! TLS for connections to source databases: rustls client configs that verify what a
//! libpq `sslmode` verifies, CA certificates read from PEM, a connector that records
//! whether TLS was used, and the classification of rustls failures.
//!
//! Every config uses the ring [`CryptoProvider`] explicitly, never the process default,
//! so the outcome does not depend on which provider some other part of the process
//! installed.

use crate::sources::config::RootCert;
use crate::sources::error::{SourceError, SourceErrorKind};
use crate::sources::ssl_mode::SslMode;
use crate::sources::trust_file;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::error::Error as StdError;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use tokio_postgres::Socket;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

/// What a TLS connection checks about the server's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Nothing: any certificate is accepted (handshake signatures are still checked).
    Nothing,
    /// The chain must lead to a trusted CA; the host name is not compared.
    Chain,
    /// The chain must lead to a trusted CA and the certificate must name the host.
    ChainAndName,
}

impl Verification {
    /// The verification libpq applies for `mode`, or `None` when the mode never uses TLS.
    /// As in libpq, a configured root certificate makes the modes that do not verify
    /// (`Allow`, `Prefer`, `Require`) verify the chain, as `Verify-Ca` does.
    pub fn for_mode(mode: SslMode, has_root_cert: bool) -> Option<Verification> {
        match mode {
            SslMode::Disable => None,
            SslMode::Allow | SslMode::Prefer | SslMode::Require if has_root_cert => Some(Verification::Chain),
            SslMode::Allow | SslMode::Prefer | SslMode::Require => Some(Verification::Nothing),
            SslMode::VerifyCa => Some(Verification::Chain),
            SslMode::VerifyFull => Some(Verification::ChainAndName),
        }
    }
}

/// A rustls client config for `verification`, trusting `root_cert` or, when it is
/// `None`, the system's CA certificates.
/// `TrustStore` paths are read only from `trust_dir` (see [`crate::sources::trust_file`]).
pub async fn client_config(
    verification: Verification,
    root_cert: Option<&RootCert>,
    trust_dir: Option<&Path>,
) -> Result<ClientConfig, SourceError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match verification {
        Verification::Nothing => Arc::new(AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }),
        Verification::Chain => Arc::new(ChainOnly(webpki_verifier(root_cert, trust_dir, &provider).await?)),
        Verification::ChainAndName => webpki_verifier(root_cert, trust_dir, &provider).await?,
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SourceError::new(SourceErrorKind::TlsHandshakeFailed, format!("TLS setup failed: {e}")))?;
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

async fn webpki_verifier(
    root_cert: Option<&RootCert>,
    trust_dir: Option<&Path>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, SourceError> {
    let roots = match root_cert {
        Some(root_cert) => Arc::new(load_root_cert(root_cert, trust_dir).await?),
        None => system_roots()?,
    };
    WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| root_cert_error(format!("the CA certificates cannot be used: {e}")))
}

/// Reads the CA certificates of `root_cert`: PEM text, or a PEM file in `trust_dir`.
/// A file that holds no usable certificate gets the same answer as a path that cannot
/// be read, so nothing is learnt about files by naming them.
pub async fn load_root_cert(root_cert: &RootCert, trust_dir: Option<&Path>) -> Result<RootCertStore, SourceError> {
    match root_cert {
        RootCert::Pem(text) => parse_pem_roots(text.as_bytes(), "the root certificate (sslRootCert, TrustStore)"),
        RootCert::Path(path) => {
            let bytes = trust_file::read(trust_dir, path).await?;
            parse_pem_roots(&bytes, "the TrustStore file").map_err(|_| trust_file::refused())
        }
    }
}

/// Parses PEM text holding one or more CA certificates; `origin` names where it came
/// from in error messages. Sections other than certificates are ignored.
pub fn parse_pem_roots(pem: &[u8], origin: &str) -> Result<RootCertStore, SourceError> {
    let mut roots = RootCertStore::empty();
    for (index, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|e| root_cert_error(format!("{origin} is not valid PEM: {}", pem_problem(&e))))?;
        roots.add(cert).map_err(|e| {
            let n = index + 1;
            root_cert_error(format!(
                "certificate {n} in {origin} is not a usable CA certificate: {e}"
            ))
        })?;
    }
    if roots.is_empty() {
        let expected = "expected one or more `-----BEGIN CERTIFICATE-----` sections";
        return Err(root_cert_error(format!("{origin} holds no certificate: {expected}")));
    }
    Ok(roots)
}

/// Describes a PEM error without quoting the input.
fn pem_problem(error: &pem::Error) -> &'static str {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a section has no `-----END ...-----` line",
        pem::Error::IllegalSectionStart { .. } => "a `-----BEGIN ...-----` line is malformed",
        pem::Error::Base64Decode(_) => "a section's base64 body is corrupt",
        pem::Error::SectionTooLarge => "a section is too large",
        _ => "it cannot be read",
    }
}

fn root_cert_error(message: String) -> SourceError {
    SourceError::new(SourceErrorKind::RootCertInvalid, message)
}

/// The system's CA certificates (rustls-native-certs), loaded once per process.
fn system_roots() -> Result<Arc<RootCertStore>, SourceError> {
    static ROOTS: OnceLock<Option<Arc<RootCertStore>>> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        (!roots.is_empty()).then(|| Arc::new(roots))
    });
    roots.clone().ok_or_else(|| {
        SourceError::new(
            SourceErrorKind::CertificateNotTrusted,
            "the Inlet host has no system CA certificates to verify the server with: \
             set sslRootCert (TrustStore) to the CA that issued the server's certificate",
        )
    })
}

/// Accepts any certificate (libpq's `require` without a root certificate), but still
/// checks that the server holds the key of the certificate it presented.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Verifies the chain as rustls does but accepts a certificate issued for another name
/// (libpq's `verify-ca`). rustls checks the name after the chain, so a name failure
/// means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// How far the TLS handshake of one connection attempt got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// No handshake: TLS was not asked for, or the server declined it.
    NotTried,
    /// The handshake began and did not complete.
    Started,
    /// The session is encrypted.
    Established,
}

/// A tokio-postgres TLS connector over rustls that records how far its handshake got,
/// which tokio-postgres does not report (under `Prefer` the server may decline TLS).
#[derive(Clone)]
pub struct TlsConnector {
    inner: MakeRustlsConnect,
    state: Arc<AtomicU8>,
}

impl TlsConnector {
    /// A connector for one connection attempt.
    pub fn new(config: &ClientConfig) -> TlsConnector {
        TlsConnector {
            inner: MakeRustlsConnect::new(config.clone()),
            state: Arc::new(AtomicU8::new(Handshake::NotTried as u8)),
        }
    }

    /// How far the handshake got.
    pub fn handshake(&self) -> Handshake {
        match self.state.load(Ordering::SeqCst) {
            0 => Handshake::NotTried,
            1 => Handshake::Started,
            _ => Handshake::Established,
        }
    }
}

type Inner = <MakeRustlsConnect as MakeTlsConnect<Socket>>::TlsConnect;
type InnerStream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

impl MakeTlsConnect<Socket> for TlsConnector {
    type Stream = InnerStream;
    type TlsConnect = TrackedConnect;
    type Error = std::convert::Infallible;

    fn make_tls_connect(&mut self, domain: &str) -> Result<TrackedConnect, Self::Error> {
        let inner = MakeTlsConnect::<Socket>::make_tls_connect(&mut self.inner, domain)?;
        Ok(TrackedConnect {
            inner,
            state: self.state.clone(),
        })
    }
}

/// The per-connection half of [`TlsConnector`].
pub struct TrackedConnect {
    inner: Inner,
    state: Arc<AtomicU8>,
}

impl TlsConnect<Socket> for TrackedConnect {
    type Stream = InnerStream;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<InnerStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        let state = self.state;
        state.store(Handshake::Started as u8, Ordering::SeqCst);
        let handshake = self.inner.connect(stream);
        Box::pin(async move {
            let stream = handshake.await?;
            state.store(Handshake::Established as u8, Ordering::SeqCst);
            Ok(stream)
        })
    }
}

/// The rustls error somewhere in `error`'s source chain. rustls errors arrive wrapped in
/// an `io::Error`, whose `source()` skips the error it wraps, hence `get_ref`.
pub fn find_rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        let wrapped = current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        if let Some(found) = wrapped.and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            return Some(found);
        }
        next = current.source();
    }
    None
}

/// What a rustls failure means for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsFailure {
    /// The chain does not lead to a trusted CA; says why (e.g. "it has expired").
    NotTrusted(&'static str),
    /// The certificate is not issued for the name verified; the names it carries, when
    /// rustls reports them.
    NameMismatch(Vec<String>),
    /// Any other handshake failure, described by rustls (no secrets in that text).
    Handshake(String),
}

/// Classifies a rustls error.
#[allow(deprecated)] // rustls still reports the context-free variants in places
pub fn classify(error: &rustls::Error) -> TlsFailure {
    use CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = error else {
        return TlsFailure::Handshake(error.to_string());
    };
    let reason = match cert {
        C::NotValidForName => return TlsFailure::NameMismatch(Vec::new()),
        C::NotValidForNameContext { presented, .. } => {
            return TlsFailure::NameMismatch(presented.iter().filter_map(|n| readable_name(n)).collect());
        }
        C::UnknownIssuer => "it is not issued by a trusted CA",
        C::BadSignature
        | C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => "its signature cannot be verified",
        C::Expired | C::ExpiredContext { .. } => "it has expired",
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet",
        C::Revoked => "it has been revoked",
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => "it is not issued for TLS servers",
        C::BadEncoding => "it is malformed",
        _ => "it failed verification",
    };
    TlsFailure::NotTrusted(reason)
}

/// `localhost` from webpki's `DnsName("localhost")`, `10.0.0.1` from `IpAddress(10.0.0.1)`;
/// `None` for other kinds of names.
fn readable_name(presented: &str) -> Option<String> {
    let dns = presented.strip_prefix("DnsName(\"").and_then(|n| n.strip_suffix("\")"));
    let ip = || presented.strip_prefix("IpAddress(").and_then(|n| n.strip_suffix(')'));
    dns.or_else(ip).map(str::to_string)
}

#[cfg(test)]
mod tests;
