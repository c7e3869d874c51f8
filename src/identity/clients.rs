//! API clients: registered by an operator, they exchange their secret for tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::secret::Secret;
use crate::store::{ApiClient, Store, StoreError, now_millis};

/// Registers a new client of `org` and returns it with its secret, which is shown once
/// and stored only as a hash.
pub async fn register(store: &Store, org: &str, name: &str) -> Result<(ApiClient, Secret), StoreError> {
    let secret = Secret::new(format!("inlet-{}", random_token(32)));
    let client = ApiClient {
        client_id: random_hex(16),
        org: org.to_string(),
        name: name.to_string(),
        secret_hash: hash_secret(&secret),
        created_at: now_millis(),
    };
    store.insert_client(&client).await?;
    Ok((client, secret))
}

/// True if `secret` is the client's. The secrets are 256 random bits, so a plain
/// SHA-256 is as strong as a slow password hash here; comparing digests rather than the
/// secrets themselves keeps the comparison's timing independent of the secret.
pub fn secret_matches(client: &ApiClient, secret: &str) -> bool {
    hash_secret(&Secret::new(secret)) == client.secret_hash
}

fn hash_secret(secret: &Secret) -> String {
    hex::encode(Sha256::digest(secret.expose().as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}
