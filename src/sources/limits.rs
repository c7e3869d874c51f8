//! Bounds on every part of a source connection's configuration, so that a request can
//! make Inlet do only a bounded amount of work with it (a megabyte password would
//! otherwise cost seconds of CPU in each authentication). The auth schemas declare
//! them as `maxLength`; the connection-string parser and the parsed config enforce them
//! again for values that did not come through the schemas.

/// Host names and addresses (`server`, `HostNameInCertificate`): DNS's own bound.
pub const HOST: usize = 253;
/// Database, user and schema names (Redshift allows 127 bytes; PostgreSQL 63).
pub const NAME: usize = 128;
/// Passwords.
pub const PASSWORD: usize = 1024;
/// PEM text of CA certificates given inline (`sslRootCert`, `TrustStore`): dozens of certificates.
pub const PEM: usize = 64 * 1024;
/// A `TrustStore` path.
pub const PATH: usize = 1024;
/// `sslMode` spellings.
pub const SSL_MODE: usize = 32;
/// A whole connection string: room for every part at its bound, with keys and braces.
pub const CONNECTION_STRING: usize = 70_000;

/// `must be at most N characters long`, the message for a value over its bound.
pub fn too_long(max: usize) -> String {
    format!("must be at most {max} characters long")
}

// A connection string holds every part at its bound, with keys and braces.
const _: () = assert!(PEM + HOST * 2 + 6 + NAME * 2 + PASSWORD + 256 <= CONNECTION_STRING);
