//! The 256-bit keys Inlet needs (secrets encryption, token signing): from the environment
//! when given there, otherwise from 0600 files in the data directory, generated on first
//! start. Never stored in the metadata database.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use crate::secret::Secret;

/// File name of the secrets-encryption key in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";
/// File name of the token-signing key in the data directory.
pub const TOKEN_KEY_FILE: &str = "token.key";

/// A 256-bit key. `Debug` never shows it.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    /// The key's bytes, for the cipher or signer that uses it.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses a key given as 64 hex digits or as base64 of 32 bytes.
    pub fn parse(text: &Secret) -> anyhow::Result<Key> {
        let text = text.expose().trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            STANDARD.decode(text).ok()
        };
        match bytes.map(<[u8; 32]>::try_from) {
            Some(Ok(bytes)) => Ok(Key(bytes)),
            _ => bail!("a key must be 32 bytes, written as 64 hex digits or in base64"),
        }
    }

    fn generate() -> Key {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Key(bytes)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

/// The key from `given` (an environment value) if set, else from `<data_dir>/<file>`,
/// creating that file (mode 0600) with a fresh key when it does not exist yet.
pub fn load_or_create(given: Option<&Secret>, data_dir: &Path, file: &str) -> anyhow::Result<Key> {
    if let Some(text) = given {
        return Key::parse(text).with_context(|| format!("the key given for {file}"));
    }
    let path = data_dir.join(file);
    let key = Key::generate();
    // create_new makes two processes starting at once agree on one key: the loser reads
    // the winner's file.
    match open_new_private(&path) {
        Ok(mut out) => {
            out.write_all(hex::encode(key.0).as_bytes())?;
            out.sync_all()?;
            Ok(key)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read_key_file(&path),
        Err(e) => Err(e).with_context(|| format!("cannot create key file {}", path.display())),
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<Key> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read key file {}", path.display()))?;
    Key::parse(&Secret::new(text)).with_context(|| format!("key file {}", path.display()))
}

fn open_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(None, dir.path(), "k.key").unwrap();
        let second = load_or_create(None, dir.path(), "k.key").unwrap();
        assert_eq!(first.bytes(), second.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("k.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn keys_parse_from_hex_or_base64_and_nothing_else() {
        let hex_key = Key::parse(&Secret::new("ab".repeat(32))).unwrap();
        assert_eq!(hex_key.bytes(), &[0xab; 32]);
        let b64 = Key::parse(&Secret::new(STANDARD.encode([7u8; 32]))).unwrap();
        assert_eq!(b64.bytes(), &[7; 32]);
        assert!(Key::parse(&Secret::new("short")).is_err());
        assert!(Key::parse(&Secret::new(STANDARD.encode([7u8; 16]))).is_err());
        assert_eq!(format!("{hex_key:?}"), "Key(<secret>)");
    }
}
