//! The ODBC-style connection string of the PostgreSQL "Connection String Based
//! Authentication": `Key=Value;Key=Value;...`.
//!
//! Grammar: keys are case-insensitive and trimmed, in any order, each at most once
//! (aliases count as the same key); parts are separated by `;`, empty parts (a trailing
//! `;`) are skipped. Unbraced values are trimmed and run to the next `;`. A value that
//! starts with `{` runs to the matching `}` and is kept verbatim, so it may hold `;`,
//! `=` and surrounding spaces; a `}` inside it is written `}}`.
//!
//! `Server` is a host name, an IPv4 address, an IPv6 address (bracketed, or bare when
//! no port follows), optionally followed by `:port` (`db:5433`, `[::1]:5433`). When
//! `Port` is also given, both must name the same port.
//!
//! Errors name the offending key and never contain a value: the string holds a
//! password. An unknown key is named only when it looks like a key name (letters,
//! digits, spaces, `_`, `-`, `.`) and does not directly follow an unbraced password,
//! because such a part is most likely the rest of a password that contained `;`.

use crate::secret::Secret;
use crate::sources::limits;
use crate::sources::ssl_mode::SslMode;
use std::net::Ipv6Addr;

/// The keys the grammar accepts, for error messages.
pub const ALLOWED_KEYS: &str = "Server, Database, Port, UID (or User ID, User, Username), \
     Password (or PWD), EncryptionMethod, ValidateServerCertificate, TrustStore, \
     HostNameInCertificate";

/// The port used when neither `Port` nor `Server=host:port` gives one.
pub const DEFAULT_PORT: u16 = 5432;

/// A parsed connection string. Its `Debug` masks the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionString {
    /// Host name, IPv4 address, or IPv6 address without brackets.
    pub server: String,
    /// TCP port, 5432 unless given.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User name (`UID`, `User ID`, `User`, `Username`).
    pub user: String,
    /// Password (`Password`, `PWD`).
    pub password: Secret,
    /// Whether and how TLS is used (`EncryptionMethod`, default 0).
    pub encryption: EncryptionMethod,
    /// With TLS, whether the chain and the host name are verified
    /// (`ValidateServerCertificate`, default 1).
    pub validate_server_certificate: bool,
    /// CA certificates to trust: PEM text or a file path (`TrustStore`).
    pub trust_store: Option<String>,
    /// The name the server certificate must carry, when it differs from `server`
    /// (`HostNameInCertificate`).
    pub host_name_in_certificate: Option<String>,
}

/// The `EncryptionMethod` key, with the driver's numeric codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncryptionMethod {
    /// `0`: no TLS.
    None = 0,
    /// `1`: TLS required.
    Tls = 1,
    /// `6`: TLS when the server offers it, plain text otherwise.
    TlsOptional = 6,
}

/// Why a connection string was refused. Its text names keys, never values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnStringError {
    /// Nothing but blanks and `;`.
    #[error("the connection string is empty; expected `Key=Value;...` with Server, Database, UID and Password")]
    Empty,
    /// A part without `=`.
    #[error(
        "part {part} of the connection string has no `=`; write `Key=Value` pairs separated by `;`, and wrap a value that contains `;` in `{{...}}`"
    )]
    MissingEquals { part: usize },
    /// A part that starts with `=`.
    #[error("part {part} of the connection string has no key before `=`")]
    EmptyKey { part: usize },
    /// A key outside the grammar; `key` is `None` when it may be part of a secret.
    #[error("unknown key {}; allowed keys: {ALLOWED_KEYS}", unknown_key(.key, *.part))]
    UnknownKey { key: Option<String>, part: usize },
    /// A key (or one of its aliases) given twice.
    #[error("`{key}` is given more than once (aliases count as the same key)")]
    DuplicateKey { key: &'static str },
    /// A required key is absent.
    #[error("`{key}` is required")]
    MissingKey { key: &'static str },
    /// A key with an empty value.
    #[error("`{key}` must not be empty")]
    EmptyValue { key: &'static str },
    /// A value outside what the key allows.
    #[error("`{key}` must be {expected}")]
    InvalidValue { key: &'static str, expected: &'static str },
    /// A `{` with no closing `}`.
    #[error("the value of `{key}` opens `{{` but never closes it; write a `}}` inside braces as `}}}}`")]
    UnclosedBrace { key: &'static str },
    /// Text between a closing `}` and the next `;`.
    #[error("unexpected text after the closing `}}` of `{key}`; end the braced value with `;`")]
    TextAfterBrace { key: &'static str },
    /// `Server=host:port` and `Port` disagree.
    #[error("`Server` and `Port` give different ports; give the port in one place")]
    ConflictingPort,
    /// A value longer than its key allows.
    #[error("`{key}` must be at most {max} characters long")]
    TooLong { key: &'static str, max: usize },
    /// The whole string is longer than any valid one can be.
    #[error("the connection string must be at most {max} characters long")]
    StringTooLong { max: usize },
}

impl ConnStringError {
    /// The canonical name of the key the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConnStringError::UnknownKey { key, .. } => key.as_deref(),
            ConnStringError::DuplicateKey { key }
            | ConnStringError::MissingKey { key }
            | ConnStringError::EmptyValue { key }
            | ConnStringError::InvalidValue { key, .. }
            | ConnStringError::UnclosedBrace { key }
            | ConnStringError::TextAfterBrace { key }
            | ConnStringError::TooLong { key, .. } => Some(key),
            ConnStringError::ConflictingPort => Some("Port"),
            _ => None,
        }
    }
}

fn unknown_key(key: &Option<String>, part: usize) -> String {
    match key {
        Some(key) => format!("`{key}`"),
        None => format!(
            "in part {part} (not shown, as it may be part of a secret; \
             wrap a value that contains `;` in `{{...}}`)"
        ),
    }
}

/// The keys of the grammar, in the order of [`Fields`]; the first name is canonical.
const KEYS: [&[&str]; 9] = [
    &["Server"],
    &["Database"],
    &["Port"],
    &["UID", "User ID", "User", "Username"],
    &["Password", "PWD"],
    &["EncryptionMethod"],
    &["ValidateServerCertificate"],
    &["TrustStore"],
    &["HostNameInCertificate"],
];
const SERVER: usize = 0;
const DATABASE: usize = 1;
const PORT: usize = 2;
const UID: usize = 3;
const PASSWORD: usize = 4;
const ENCRYPTION: usize = 5;
const VALIDATE: usize = 6;
const TRUST_STORE: usize = 7;
const HOST_NAME: usize = 8;

/// Raw values by key index.
type Fields = [Option<String>; 9];

impl ConnectionString {
    /// Parses a connection string (see the module documentation for the grammar).
    /// Every value is bounded ([`limits`]), and a string longer than
    /// [`limits::CONNECTION_STRING`] is refused before it is parsed.
    pub fn parse(input: &str) -> Result<ConnectionString, ConnStringError> {
        if input.len() > limits::CONNECTION_STRING {
            return Err(ConnStringError::StringTooLong {
                max: limits::CONNECTION_STRING,
            });
        }
        let mut fields: Fields = Default::default();
        for (key, value) in split(input)? {
            if fields[key].replace(value).is_some() {
                return Err(ConnStringError::DuplicateKey { key: KEYS[key][0] });
            }
        }
        if fields.iter().all(Option::is_none) {
            return Err(ConnStringError::Empty);
        }
        check_lengths(&fields)?;
        Self::from_fields(fields)
    }

    fn from_fields(mut f: Fields) -> Result<ConnectionString, ConnStringError> {
        let (server, server_port) = parse_server(&required(&mut f, SERVER)?)?;
        let port = match (f[PORT].take(), server_port) {
            (Some(text), server_port) => {
                let port = parse_port(&text)?;
                if server_port.is_some_and(|p| p != port) {
                    return Err(ConnStringError::ConflictingPort);
                }
                port
            }
            (None, server_port) => server_port.unwrap_or(DEFAULT_PORT),
        };
        Ok(ConnectionString {
            server,
            port,
            database: required(&mut f, DATABASE)?,
            user: required(&mut f, UID)?,
            password: Secret::new(f[PASSWORD].take().ok_or(missing(PASSWORD))?),
            encryption: parse_encryption(f[ENCRYPTION].take())?,
            validate_server_certificate: parse_validate(f[VALIDATE].take())?,
            trust_store: f[TRUST_STORE].take().filter(|v| !v.is_empty()),
            host_name_in_certificate: f[HOST_NAME].take().filter(|v| !v.is_empty()),
        })
    }

    /// The libpq-equivalent TLS mode: `EncryptionMethod=0` is `Disable`; `1` is
    /// `Verify-Full` with `ValidateServerCertificate=1` and `Require` with `0`; `6` is
    /// `Prefer` (a connection that may fall back to plain text gains nothing from
    /// verifying, so `ValidateServerCertificate` does not apply to it).
    pub fn ssl_mode(&self) -> SslMode {
        match (self.encryption, self.validate_server_certificate) {
            (EncryptionMethod::None, _) => SslMode::Disable,
            (EncryptionMethod::Tls, true) => SslMode::VerifyFull,
            (EncryptionMethod::Tls, false) => SslMode::Require,
            (EncryptionMethod::TlsOptional, _) => SslMode::Prefer,
        }
    }
}

/// The longest value each key takes, in characters.
fn max_length(key: usize, value: &str) -> usize {
    match key {
        SERVER => limits::HOST + ":65535".len() + 2,
        DATABASE | UID => limits::NAME,
        PASSWORD => limits::PASSWORD,
        TRUST_STORE if is_pem(value) => limits::PEM,
        TRUST_STORE => limits::PATH,
        HOST_NAME => limits::HOST,
        _ => 16,
    }
}

fn check_lengths(fields: &Fields) -> Result<(), ConnStringError> {
    for (key, value) in fields.iter().enumerate() {
        let Some(value) = value else { continue };
        let max = max_length(key, value);
        if value.chars().count() > max {
            return Err(ConnStringError::TooLong { key: KEYS[key][0], max });
        }
    }
    Ok(())
}

fn missing(key: usize) -> ConnStringError {
    ConnStringError::MissingKey { key: KEYS[key][0] }
}

fn required(fields: &mut Fields, key: usize) -> Result<String, ConnStringError> {
    match fields[key].take() {
        None => Err(missing(key)),
        Some(value) if value.is_empty() => Err(ConnStringError::EmptyValue { key: KEYS[key][0] }),
        Some(value) => Ok(value),
    }
}

/// Splits the input into (key index, value) pairs.
fn split(input: &str) -> Result<Vec<(usize, String)>, ConnStringError> {
    let mut pairs = Vec::new();
    let mut rest = input;
    let mut part = 0;
    let mut after_bare_password = false;
    while !rest.is_empty() {
        part += 1;
        let Some(eq) = rest.find(['=', ';']).filter(|&i| rest.as_bytes()[i] == b'=') else {
            let end = rest.find(';').map_or(rest.len(), |i| i + 1);
            if !rest[..end].trim_end_matches(';').trim().is_empty() {
                return Err(ConnStringError::MissingEquals { part });
            }
            rest = &rest[end..];
            continue;
        };
        let key = resolve_key(rest[..eq].trim(), part, after_bare_password)?;
        let value_text = &rest[eq + 1..];
        after_bare_password = key == PASSWORD && !value_text.trim_start().starts_with('{');
        let (value, remainder) = split_value(value_text, KEYS[key][0])?;
        pairs.push((key, value));
        rest = remainder;
    }
    Ok(pairs)
}

fn resolve_key(raw: &str, part: usize, may_be_secret: bool) -> Result<usize, ConnStringError> {
    if raw.is_empty() {
        return Err(ConnStringError::EmptyKey { part });
    }
    let folded = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let found = KEYS
        .iter()
        .position(|names| names.iter().any(|n| n.eq_ignore_ascii_case(&folded)));
    found.ok_or_else(|| ConnStringError::UnknownKey {
        key: (!may_be_secret && looks_like_key(raw)).then(|| raw.to_string()),
        part,
    })
}

fn looks_like_key(raw: &str) -> bool {
    raw.len() <= 40
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'))
}

/// Reads one value from just after `=`; returns it and the text after its `;`.
fn split_value<'a>(text: &'a str, key: &'static str) -> Result<(String, &'a str), ConnStringError> {
    let trimmed = text.trim_start();
    let Some(braced) = trimmed.strip_prefix('{') else {
        let end = text.find(';').unwrap_or(text.len());
        let rest = text.get(end + 1..).unwrap_or("");
        return Ok((text[..end].trim().to_string(), rest));
    };
    let mut value = String::new();
    let mut chars = braced.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '}' {
            value.push(c);
        } else if braced[i + 1..].starts_with('}') {
            value.push('}');
            chars.next();
        } else {
            let after = braced[i + 1..].trim_start();
            return match after.strip_prefix(';') {
                Some(rest) => Ok((value, rest)),
                None if after.is_empty() => Ok((value, after)),
                None => Err(ConnStringError::TextAfterBrace { key }),
            };
        }
    }
    Err(ConnStringError::UnclosedBrace { key })
}

/// Splits `Server` into a host and an optional port.
fn parse_server(text: &str) -> Result<(String, Option<u16>), ConnStringError> {
    let bad = ConnStringError::InvalidValue {
        key: "Server",
        expected: "a host name, an IPv4 address or an [IPv6] address, optionally followed by :port",
    };
    if let Some(bracketed) = text.strip_prefix('[') {
        let (address, after) = bracketed.split_once(']').ok_or(bad.clone())?;
        address.parse::<Ipv6Addr>().map_err(|_| bad.clone())?;
        let port = match after {
            "" => None,
            _ => Some(parse_port(after.strip_prefix(':').ok_or(bad)?)?),
        };
        return Ok((address.to_string(), port));
    }
    match text.matches(':').count() {
        0 if is_host(text) => Ok((text.to_string(), None)),
        1 => {
            let (host, port) = text.split_once(':').expect("one colon");
            if !is_host(host) {
                return Err(bad);
            }
            Ok((host.to_string(), Some(parse_port(port)?)))
        }
        n if n >= 2 && text.parse::<Ipv6Addr>().is_ok() => Ok((text.to_string(), None)),
        _ => Err(bad),
    }
}

/// True for a host name or IPv4 address: letters, digits, `-`, `.` and `_`.
pub fn is_host(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

fn parse_port(text: &str) -> Result<u16, ConnStringError> {
    let text = text.trim();
    let port = text.parse::<u16>().ok().filter(|&p| p != 0);
    match port {
        Some(port) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(ConnStringError::InvalidValue {
            key: "Port",
            expected: "a whole number from 1 to 65535",
        }),
    }
}

fn parse_encryption(text: Option<String>) -> Result<EncryptionMethod, ConnStringError> {
    match text.as_deref() {
        None | Some("0") => Ok(EncryptionMethod::None),
        Some("1") => Ok(EncryptionMethod::Tls),
        Some("6") => Ok(EncryptionMethod::TlsOptional),
        Some(_) => Err(ConnStringError::InvalidValue {
            key: "EncryptionMethod",
            expected: "0 (no TLS), 1 (TLS required) or 6 (TLS when the server offers it)",
        }),
    }
}

fn parse_validate(text: Option<String>) -> Result<bool, ConnStringError> {
    match text.map(|t| t.to_ascii_lowercase()).as_deref() {
        None | Some("1") | Some("true") => Ok(true),
        Some("0") | Some("false") => Ok(false),
        Some(_) => Err(ConnStringError::InvalidValue {
            key: "ValidateServerCertificate",
            expected: "0 (do not verify) or 1 (verify the chain and the host name)",
        }),
    }
}

/// True when the text looks like PEM (it starts with a `-----BEGIN` line).
pub(crate) fn is_pem(text: &str) -> bool {
    text.trim_start().starts_with("-----BEGIN")
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests;
