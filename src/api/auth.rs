//! Request identity: the token, api key and org headers checked as the platform's gateway
//! does, then the sandbox header. Handlers take [`Caller`] (a tenant-scoped call) or
//! [`OrgCaller`] (org-level calls such as sandbox management) as an argument.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::identity::tokens::TokenError;
use crate::identity::{Caller, DEFAULT_SANDBOX, Tenant};
use crate::state::AppState;

/// A caller whose token, api key and org headers hold; not yet bound to a sandbox.
#[derive(Clone, Debug)]
pub struct OrgCaller {
    pub org: String,
    pub client_id: String,
    pub subject: String,
}

impl FromRequestParts<AppState> for OrgCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let claims = state.tokens.verify(token).map_err(|e| {
            let message = match e {
                TokenError::Expired => "Oauth token is not valid: it has expired",
                TokenError::Invalid => "Oauth token is not valid",
            };
            ApiError::gateway(StatusCode::UNAUTHORIZED, "401013", message)
        })?;
        match header(parts, "x-api-key") {
            None => {
                return Err(ApiError::gateway(
                    StatusCode::FORBIDDEN,
                    "403000",
                    "Api Key is required",
                ));
            }
            Some(key) if key != claims.client_id => {
                return Err(ApiError::gateway(StatusCode::FORBIDDEN, "403003", "Api Key is invalid"));
            }
            Some(_) => {}
        }
        match header(parts, "x-gw-ims-org-id") {
            None => Err(ApiError::gateway(
                StatusCode::BAD_REQUEST,
                "400003",
                "The x-gw-ims-org-id header is required",
            )),
            Some(org) if org != claims.org => Err(ApiError::gateway(
                StatusCode::FORBIDDEN,
                "403010",
                "The x-gw-ims-org-id header does not name the token's organization",
            )),
            Some(_) => Ok(OrgCaller {
                org: claims.org,
                client_id: claims.client_id,
                subject: claims.sub,
            }),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = OrgCaller::from_request_parts(parts, state).await?;
        let Some(sandbox) = header(parts, "x-sandbox-name") else {
            return Err(ApiError::bad_request(
                "2105",
                "The x-sandbox-name header is required (e.g. `prod`)",
            ));
        };
        if sandbox != DEFAULT_SANDBOX && state.store.get_sandbox(&caller.org, sandbox).await?.is_none() {
            return Err(ApiError::flow(
                StatusCode::NOT_FOUND,
                "2100",
                format!("Sandbox `{sandbox}` was not found in this organization"),
            ));
        }
        Ok(Caller {
            tenant: Tenant {
                org: caller.org,
                sandbox: sandbox.to_string(),
            },
            client_id: caller.client_id,
            subject: caller.subject,
        })
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::gateway(
            StatusCode::UNAUTHORIZED,
            "401013",
            "Oauth token is not valid: no bearer token was sent",
        )
    };
    let value = header(parts, "authorization").ok_or_else(missing)?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim())
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}
