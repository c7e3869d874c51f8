//! `POST /ims/token/v3`: the OAuth client-credentials grant for registered API clients.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, json_response};
use crate::identity::clients;
use crate::state::AppState;

/// The token route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(issue_token))
}

/// The client-credentials form.
#[derive(Deserialize, utoipa::ToSchema)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[allow(dead_code)]
    scope: Option<String>,
}

#[utoipa::path(post, path = "/ims/token/v3", tag = "Identity", request_body(content = crate::api::schema::requests::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "An access token", body = crate::api::schema::items::TokenAnswer),
        (status = 400, description = "An OAuth error", body = crate::api::schema::OAuthErrorBody),
        (status = 401, description = "Unknown client or wrong secret", body = crate::api::schema::OAuthErrorBody)))]
async fn issue_token(
    State(state): State<AppState>,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let Ok(Form(request)) = form else {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send a form (application/x-www-form-urlencoded) with grant_type, client_id, client_secret and scope",
        ));
    };
    if request.grant_type.as_deref() != Some("client_credentials") {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        ));
    }
    let (Some(client_id), Some(secret)) = (request.client_id, request.client_secret) else {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        ));
    };
    let client = state.store.get_client(&client_id).await?;
    let Some(client) = client.filter(|c| clients::secret_matches(c, &secret)) else {
        return Err(oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id or wrong client_secret",
        ));
    };
    let ttl = state.config.token_ttl;
    let token = state.tokens.mint(&client.client_id, &client.org, ttl);
    Ok(json_response(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "bearer", "expires_in": ttl.as_secs()}),
    ))
}

fn oauth(status: StatusCode, error: &'static str, description: &str) -> ApiError {
    ApiError::OAuth {
        status,
        error,
        description: description.to_string(),
    }
}
