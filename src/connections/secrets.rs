//! Encryption of connection secrets at rest: AES-256-GCM under the master key, with the
//! owning record (org, sandbox, kind, id) as associated data, so a ciphertext copied onto
//! another record does not decrypt.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};

use crate::identity::keys::Key;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// A secret could not be decrypted: wrong key, tampered data, or another record's data.
#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted (wrong master key, or the data was altered)")]
pub struct DecryptError;

/// Seals and opens secrets.
#[derive(Clone)]
pub struct SecretCipher {
    cipher: Aes256Gcm,
}

impl SecretCipher {
    /// A cipher under `key`.
    pub fn new(key: &Key) -> SecretCipher {
        SecretCipher {
            cipher: Aes256Gcm::new(key.bytes().into()),
        }
    }

    /// Encrypts `plaintext` bound to `record`: `version || nonce || ciphertext+tag`.
    pub fn seal(&self, plaintext: &[u8], record: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: record.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what [`seal`](Self::seal) produced for the same `record`.
    pub fn open(&self, sealed: &[u8], record: &str) -> Result<Vec<u8>, DecryptError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT_V1 {
            return Err(DecryptError);
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| DecryptError)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: record.as_bytes(),
                },
            )
            .map_err(|_| DecryptError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn cipher(byte: &str) -> SecretCipher {
        SecretCipher::new(&Key::parse(&Secret::new(byte.repeat(32))).unwrap())
    }

    #[test]
    fn sealed_secrets_open_only_for_their_record_and_key() {
        let sealed = cipher("01").seal(b"p@ss", "org/prod/connection/1");
        assert!(!sealed.windows(4).any(|w| w == b"p@ss"));
        assert_eq!(cipher("01").open(&sealed, "org/prod/connection/1").unwrap(), b"p@ss");
        assert!(cipher("01").open(&sealed, "org/prod/connection/2").is_err());
        assert!(cipher("02").open(&sealed, "org/prod/connection/1").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(cipher("01").open(&tampered, "org/prod/connection/1").is_err());
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let c = cipher("01");
        assert_ne!(c.seal(b"same", "r"), c.seal(b"same", "r"));
    }
}
