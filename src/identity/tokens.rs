//! Access tokens: HS256 JWTs signed with the instance's token key, so any process on the
//! same data directory (or given the same `INLET_TOKEN_KEY`) accepts them.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::Key;

const ISSUER: &str = "inlet";

/// The claims Inlet puts in a token and reads back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub client_id: String,
    pub org: String,
    pub iat: i64,
    pub exp: i64,
}

/// Why a token was refused. Deliberately coarse: callers only learn that it is invalid.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
}

/// Mints and verifies tokens.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenSigner {
    /// A signer using `key`.
    pub fn new(key: &Key) -> TokenSigner {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Inlet both mints and checks its tokens, so there is no foreign clock to forgive.
        validation.leeway = 0;
        TokenSigner {
            encoding: EncodingKey::from_secret(key.bytes()),
            decoding: DecodingKey::from_secret(key.bytes()),
            validation,
        }
    }

    /// A token for `client_id` of `org`, valid for `ttl`.
    pub fn mint(&self, client_id: &str, org: &str, ttl: Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.to_string(),
            sub: format!("{client_id}@{org}"),
            client_id: client_id.to_string(),
            org: org.to_string(),
            iat: now,
            exp: now + ttl.as_secs() as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The token's claims, if its signature, issuer and expiry hold.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn key(byte: &str) -> Key {
        Key::parse(&Secret::new(byte.repeat(32))).unwrap()
    }

    #[test]
    fn a_minted_token_verifies_with_the_same_key_only() {
        let signer = TokenSigner::new(&key("01"));
        let token = signer.mint("client-1", "ORG@AdobeOrg", Duration::from_secs(60));
        let claims = signer.verify(&token).unwrap();
        assert_eq!(claims.client_id, "client-1");
        assert_eq!(claims.org, "ORG@AdobeOrg");
        assert_eq!(TokenSigner::new(&key("02")).verify(&token), Err(TokenError::Invalid));
        assert_eq!(signer.verify("not.a.token"), Err(TokenError::Invalid));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let signer = TokenSigner::new(&key("01"));
        let token = signer.mint("c", "o", Duration::ZERO);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(signer.verify(&token), Err(TokenError::Expired));
    }
}
