//! Continuation tokens of lists: what the next page needs (the query and the last item's
//! sort value and id), signed with a key of the server's (HMAC-SHA-256), so a token a
//! client edited or made up is refused, and URL-safe base64 without padding (§4).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// Bytes of the signature at the front of a token.
const MAC_BYTES: usize = 32;

/// The key that signs continuation tokens; derived from the token-signing key, so every
/// process of an installation accepts the others' tokens.
#[derive(Clone)]
pub struct ListKey([u8; 32]);

impl std::fmt::Debug for ListKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListKey(..)")
    }
}

/// What a continuation token remembers: the query, and the last item of the page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenState {
    #[serde(rename = "l", default)]
    pub limit: Option<usize>,
    #[serde(rename = "p", default)]
    pub properties: Vec<String>,
    #[serde(rename = "o", default)]
    pub orderby: Option<String>,
    #[serde(rename = "k", default)]
    pub last_key: Option<Value>,
    #[serde(rename = "i", default)]
    pub last_id: Option<String>,
}

impl ListKey {
    /// The list key belonging to `secret` (the server's token key).
    pub fn derive(secret: &[u8]) -> ListKey {
        let mut digest = Sha256::new();
        digest.update(b"inlet list continuation tokens\0");
        digest.update(secret);
        ListKey(digest.finalize().into())
    }

    /// The token for `state`.
    pub fn seal(&self, state: &TokenState) -> String {
        let body = serde_json::to_vec(state).expect("token state serialises");
        let mut sealed = self.mac(&body).to_vec();
        sealed.extend(body);
        URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The state in `token`, if this server signed it and nobody changed it.
    pub fn open(&self, token: &str) -> Result<TokenState, ApiError> {
        let refused = || ApiError::bad_request("1402", "`continuationToken` is not one this server issued");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| refused())?;
        if bytes.len() < MAC_BYTES {
            return Err(refused());
        }
        let (mac, body) = bytes.split_at(MAC_BYTES);
        let mut check = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        check.update(body);
        check.verify_slice(mac).map_err(|_| refused())?;
        serde_json::from_slice(body).map_err(|_| refused())
    }

    fn mac(&self, body: &[u8]) -> [u8; MAC_BYTES] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_open_only_unchanged_and_with_their_key() {
        let key = ListKey::derive(b"secret");
        let state = TokenState {
            limit: Some(20),
            properties: vec!["state==enabled".into()],
            last_key: Some(json!(17)),
            last_id: Some("x".into()),
            ..TokenState::default()
        };
        let token = key.seal(&state);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token}"
        );
        assert_eq!(key.open(&token).unwrap(), state);
        assert!(ListKey::derive(b"other").open(&token).is_err(), "another server's key");
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let at = bytes.len() - 3;
        bytes[at] ^= 1;
        assert!(key.open(&URL_SAFE_NO_PAD.encode(&bytes)).is_err(), "an edited token");
        let forged = URL_SAFE_NO_PAD.encode(br#"{"l":172}"#);
        assert!(key.open(&forged).is_err(), "an unsigned token");
        assert!(key.open("zz").is_err());
    }
}
