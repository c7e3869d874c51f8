//! Request bodies: the content type checked, the size bounded, JSON syntax errors
//! reported with their line and column, and the document's shape bounded.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::Value;

use super::error::ApiError;
use crate::state::AppState;

/// A JSON request body, parsed to a `Value` for the handler to read field by field.
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !is_json(content_type) {
            return Err(ApiError::flow(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "1002",
                "The request body must be sent with Content-Type: application/json",
            ));
        }
        let limit = state.config.max_body_bytes;
        let too_large = || {
            ApiError::flow(
                StatusCode::PAYLOAD_TOO_LARGE,
                "1003",
                format!("The request body is larger than the {limit} bytes this server accepts"),
            )
        };
        // Refusing on the announced length, before reading, lets a client that sent
        // `Expect: 100-continue` learn the answer without uploading the body.
        let announced = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if announced.is_some_and(|length| length > limit) {
            return Err(too_large());
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::bad_request("1000", "The request body could not be read")
            }
        })?;
        let body = parse(&bytes)?;
        within_bounds(&body)?;
        Ok(JsonBody(body))
    }
}

/// `1001-400` naming every place where `document` (a body, or a document a patch made)
/// breaks one of the bounds of [`crate::bounds`].
pub fn within_bounds(document: &Value) -> Result<(), ApiError> {
    crate::bounds::check(document).map_err(|violations| ApiError::invalid("The document exceeds a bound", violations))
}

/// Parses JSON text, naming the line and column of a syntax error.
pub fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    // Parsing into a `Value` can only fail on syntax, and serde_json's syntax messages
    // never quote the input, so they are safe to return.
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("1000", format!("The request body is not valid JSON: {e}")))
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_line_and_column() {
        let error = parse(b"{\n  \"name\": \"x\",\n  \"description\": \"unterminated").unwrap_err();
        let ApiError::Flow { message, .. } = error else {
            panic!("flow error expected")
        };
        assert!(message.contains("line 3 column"), "{message}");
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/json-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}
