use super::*;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

/// The PEM of a fresh CA (with a name of its own) and a certificate for DNS `localhost`
/// that it issued.
fn pki() -> (String, CertificateDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    let name = format!("CA {:016x}", rand::random::<u64>());
    ca.distinguished_name.push(rcgen::DnType::CommonName, name);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.pem(), leaf.der().clone())
}

fn webpki(ca_pem: &str) -> Arc<WebPkiServerVerifier> {
    let roots = Arc::new(parse_pem_roots(ca_pem.as_bytes(), "test").unwrap());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiServerVerifier::builder_with_provider(roots, provider)
        .build()
        .unwrap()
}

fn verify(verifier: &dyn ServerCertVerifier, leaf: &CertificateDer<'_>, name: &str) -> Result<(), rustls::Error> {
    let name = ServerName::try_from(name.to_string()).unwrap();
    verifier
        .verify_server_cert(leaf, &[], &name, &[], UnixTime::now())
        .map(|_| ())
}

#[test]
fn chain_only_accepts_another_name_but_not_another_ca() {
    let (ca, leaf) = pki();
    let (other_ca, _) = pki();
    let full = webpki(&ca);
    assert!(verify(full.as_ref(), &leaf, "localhost").is_ok());
    let mismatch = verify(full.as_ref(), &leaf, "127.0.0.1").unwrap_err();
    assert_eq!(
        classify(&mismatch),
        TlsFailure::NameMismatch(vec!["localhost".to_string()])
    );

    let chain_only = ChainOnly(full);
    assert!(verify(&chain_only, &leaf, "127.0.0.1").is_ok());
    assert!(verify(&chain_only, &leaf, "db.example.com").is_ok());
    let untrusted = verify(&ChainOnly(webpki(&other_ca)), &leaf, "localhost").unwrap_err();
    assert_eq!(
        classify(&untrusted),
        TlsFailure::NotTrusted("it is not issued by a trusted CA")
    );
}

#[test]
fn accept_any_takes_any_certificate_and_offers_the_providers_schemes() {
    let (_, leaf) = pki();
    let provider = rustls::crypto::ring::default_provider();
    let any = AcceptAnyCertificate {
        algorithms: provider.signature_verification_algorithms,
    };
    assert!(verify(&any, &leaf, "127.0.0.1").is_ok());
    assert!(verify(&any, &CertificateDer::from(vec![1, 2, 3]), "localhost").is_ok());
    assert!(
        any.supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP256_SHA256)
    );
}

#[test]
fn pem_roots_parse_one_or_more_certificates() {
    let ((a, _), (b, _)) = (pki(), pki());
    assert_eq!(parse_pem_roots(a.as_bytes(), "x").unwrap().len(), 1);
    let both = format!("{a}\n# comment\n{b}");
    assert_eq!(parse_pem_roots(both.as_bytes(), "x").unwrap().len(), 2);
}

#[test]
fn pem_errors_say_what_is_wrong_without_quoting_the_input() {
    let cases = [
        ("", "holds no certificate"),
        ("hunter2 is not PEM", "holds no certificate"),
        ("-----BEGIN CERTIFICATE-----\nMIIB\n", "no `-----END"),
        (
            "-----BEGIN CERTIFICATE-----\n!!hunter2!!\n-----END CERTIFICATE-----\n",
            "base64",
        ),
        (
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "certificate 1 in sslRootCert",
        ),
    ];
    for (pem, expected) in cases {
        let error = parse_pem_roots(pem.as_bytes(), "sslRootCert").unwrap_err();
        assert_eq!(error.kind, SourceErrorKind::RootCertInvalid, "{pem:?}");
        assert!(error.message.contains(expected), "{pem:?}: {}", error.message);
        assert!(!error.message.contains("hunter2"), "{}", error.message);
    }
}

#[tokio::test]
async fn root_cert_files_are_read_from_the_trust_directory_only() {
    let (ca, _) = pki();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &ca).unwrap();
    std::fs::write(dir.path().join("empty.pem"), "no certificate here").unwrap();
    let trust = Some(dir.path());
    assert_eq!(
        load_root_cert(&RootCert::Path(path.clone()), trust)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        load_root_cert(&RootCert::Path("ca.pem".into()), trust)
            .await
            .unwrap()
            .len(),
        1
    );
    let refused = crate::sources::trust_file::refused();
    for bad in ["missing.pem", "empty.pem"] {
        let error = load_root_cert(&RootCert::Path(bad.into()), trust).await.unwrap_err();
        assert_eq!(error, refused, "{bad}");
    }
    assert_eq!(load_root_cert(&RootCert::Path(path), None).await.unwrap_err(), refused);
    assert_eq!(load_root_cert(&RootCert::Pem(ca), None).await.unwrap().len(), 1);
}

#[test]
fn modes_verify_what_libpq_verifies() {
    use SslMode::*;
    use Verification::*;
    let without: Vec<_> = [Disable, Allow, Prefer, Require, VerifyCa, VerifyFull]
        .map(|m| Verification::for_mode(m, false))
        .into();
    let expected = [
        None,
        Some(Nothing),
        Some(Nothing),
        Some(Nothing),
        Some(Chain),
        Some(ChainAndName),
    ];
    assert_eq!(without, expected);
    let with: Vec<_> = [Disable, Allow, Prefer, Require, VerifyCa, VerifyFull]
        .map(|m| Verification::for_mode(m, true))
        .into();
    let expected = [
        None,
        Some(Chain),
        Some(Chain),
        Some(Chain),
        Some(Chain),
        Some(ChainAndName),
    ];
    assert_eq!(with, expected);
}

#[test]
fn rustls_errors_are_found_inside_io_errors_and_classified() {
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("outer")
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }
    let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
    let outer = Outer(std::io::Error::new(std::io::ErrorKind::InvalidData, expired));
    let found = find_rustls_error(&outer).expect("found through io::Error::get_ref");
    assert_eq!(classify(found), TlsFailure::NotTrusted("it has expired"));
    assert!(find_rustls_error(&std::io::Error::other("plain")).is_none());

    let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
    assert!(matches!(classify(&alert), TlsFailure::Handshake(text) if text.contains("HandshakeFailure")));
    let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
    assert_eq!(classify(&name), TlsFailure::NameMismatch(vec![]));
    assert_eq!(readable_name("IpAddress(10.0.0.1)").as_deref(), Some("10.0.0.1"));
    assert_eq!(readable_name("DirectoryName"), None);
}
