//! The TLS mode of a connection to a source database, with exactly libpq's `sslmode`
//! meaning, and the lenient parsing of the spellings clients send for it.

use serde_json::Value;
use std::fmt;

/// How a connection to a source database uses TLS. Each mode means exactly what
/// libpq's `sslmode` of the same name means.
///
/// Only [`SslMode::VerifyFull`] protects against a man in the middle: every other mode
/// either sends data in plain text or accepts a certificate that an attacker could
/// present (a valid chain issued for another host, or any certificate at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SslMode {
    /// No TLS: everything, the password exchange included, travels in plain text.
    Disable,
    /// Plain text first; TLS only when the server insists on it. The certificate is
    /// not checked. Offers no protection against eavesdropping or tampering.
    Allow,
    /// TLS when the server offers it, plain text otherwise; the certificate is not
    /// checked. An attacker who can strip TLS or present any certificate can read
    /// and alter the traffic.
    Prefer,
    /// TLS is mandatory, so the traffic is encrypted, but the server is NOT
    /// authenticated: any certificate is accepted, so a man in the middle can
    /// impersonate the server.
    Require,
    /// TLS is mandatory and the certificate chain must lead to a trusted CA, but the
    /// host name is not compared with the certificate: any host holding a certificate
    /// from that CA can impersonate the server.
    VerifyCa,
    /// TLS is mandatory, the chain must lead to a trusted CA and the certificate must
    /// be issued for the host connected to. The only mode that protects against a man
    /// in the middle.
    VerifyFull,
}

impl SslMode {
    /// The canonical names of the modes, as listed in error messages.
    pub const ALLOWED: &str = "Disable, Allow, Prefer, Require, Verify-Ca, Verify-Full";

    /// Parses a mode from a JSON value. Accepts the canonical names in any case, with
    /// `-`, `_`, a space or nothing between the words (`Verify-Full`, `verify_full`,
    /// `Verify Full`, `verifyfull`), and the platform's AWS variant: a boolean, or the
    /// string `"true"`/`"false"`, meaning [`SslMode::Require`]/[`SslMode::Disable`].
    ///
    /// The error text lists the allowed modes and never repeats the value given.
    pub fn parse(value: &Value) -> Result<SslMode, String> {
        match value {
            Value::Bool(true) => Ok(SslMode::Require),
            Value::Bool(false) => Ok(SslMode::Disable),
            Value::String(text) => Self::parse_str(text).ok_or_else(invalid_mode),
            _ => Err(invalid_mode()),
        }
    }

    /// Parses a mode from text, with the same spellings as [`SslMode::parse`].
    pub fn parse_str(text: &str) -> Option<SslMode> {
        let folded: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "disable" | "false" => Some(SslMode::Disable),
            "allow" => Some(SslMode::Allow),
            "prefer" => Some(SslMode::Prefer),
            "require" | "true" => Some(SslMode::Require),
            "verifyca" => Some(SslMode::VerifyCa),
            "verifyfull" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }

    /// The canonical name: `Disable`, `Allow`, `Prefer`, `Require`, `Verify-Ca` or
    /// `Verify-Full`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SslMode::Disable => "Disable",
            SslMode::Allow => "Allow",
            SslMode::Prefer => "Prefer",
            SslMode::Require => "Require",
            SslMode::VerifyCa => "Verify-Ca",
            SslMode::VerifyFull => "Verify-Full",
        }
    }

    /// The libpq `sslmode` keyword (`disable` … `verify-full`).
    pub fn libpq_name(&self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// True when a connection must fail rather than continue without TLS.
    pub fn requires_tls(&self) -> bool {
        matches!(self, SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull)
    }

    /// True when the certificate chain must lead to a trusted CA.
    pub fn verifies_chain(&self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }

    /// True when the certificate must be issued for the host name connected to.
    pub fn verifies_host_name(&self) -> bool {
        matches!(self, SslMode::VerifyFull)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn invalid_mode() -> String {
    format!(
        "must be one of {} (any case; `-`, `_` or a space between words), or true/false",
        SslMode::ALLOWED
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(value: Value) -> SslMode {
        SslMode::parse(&value).unwrap()
    }

    #[test]
    fn canonical_names_round_trip() {
        for mode in [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(parsed(json!(mode.as_str())), mode);
            assert_eq!(parsed(json!(mode.libpq_name())), mode);
            assert!(SslMode::ALLOWED.contains(mode.as_str()));
        }
    }

    #[test]
    fn accepts_the_common_spellings() {
        for text in [
            "Verify-Full",
            "verify-full",
            "VERIFY_FULL",
            "Verify Full",
            "verifyfull",
            " VerifyFull ",
        ] {
            assert_eq!(parsed(json!(text)), SslMode::VerifyFull, "{text}");
        }
        for text in ["Verify-Ca", "verify ca", "VERIFY_CA", "verifyca"] {
            assert_eq!(parsed(json!(text)), SslMode::VerifyCa, "{text}");
        }
        assert_eq!(parsed(json!("REQUIRE")), SslMode::Require);
        assert_eq!(parsed(json!("prefer")), SslMode::Prefer);
        assert_eq!(parsed(json!("Allow")), SslMode::Allow);
        assert_eq!(parsed(json!("disable")), SslMode::Disable);
    }

    #[test]
    fn booleans_are_the_aws_variant() {
        assert_eq!(parsed(json!(true)), SslMode::Require);
        assert_eq!(parsed(json!(false)), SslMode::Disable);
        assert_eq!(parsed(json!("true")), SslMode::Require);
        assert_eq!(parsed(json!("False")), SslMode::Disable);
    }

    #[test]
    fn rejects_others_without_echoing_the_value() {
        for value in [json!("verify"), json!("s3cret-mode"), json!(""), json!(1)] {
            let error = SslMode::parse(&value).unwrap_err();
            assert!(error.contains(SslMode::ALLOWED), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
        assert_eq!(SslMode::parse_str("verify-fullx"), None);
    }

    #[test]
    fn only_verify_full_checks_the_host() {
        assert!(SslMode::VerifyFull.verifies_host_name());
        assert!(!SslMode::VerifyCa.verifies_host_name());
        assert!(SslMode::VerifyCa.verifies_chain());
        assert!(!SslMode::Require.verifies_chain());
        assert!(SslMode::Require.requires_tls());
        assert!(!SslMode::Prefer.requires_tls());
        assert_eq!(SslMode::VerifyFull.to_string(), "Verify-Full");
    }
}
