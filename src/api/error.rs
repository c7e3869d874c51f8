//! The one place where failures become HTTP responses: the Flow Service error shape, the
//! gateway shape for token failures, and OAuth errors for the token endpoint.
//!
//! Handlers return [`ApiError`]; its response carries the error in an extension, and the
//! [`render`] middleware writes the body with the request id, so every error names the
//! request it belongs to.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::flows::schedule::ScheduleError;
use crate::specs::Violation;
use crate::store::StoreError;

/// A failure answered to an API caller.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// Flow Service shape: `FLOW-<code>-<status>`.
    Flow {
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        message: String,
        details: Vec<Violation>,
    },
    /// Gateway shape, for token, api key and org failures.
    Gateway {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// OAuth shape, for the token endpoint.
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
}

impl ApiError {
    /// A Flow Service error with a code from the contract (or the project's list).
    pub fn flow(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Flow {
            status,
            code,
            title: title_of(status),
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 400 with the given code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::flow(StatusCode::BAD_REQUEST, code, message)
    }

    /// `1101-404`: `what` (e.g. "Connection") with this id does not exist for the caller.
    pub fn not_found(what: &str, id: &str) -> ApiError {
        ApiError::flow(StatusCode::NOT_FOUND, "1101", format!("{what} {id} was not found"))
    }

    /// `1001-400`: the request's fields broke these rules, each named by its JSON path.
    pub fn invalid(summary: &str, details: Vec<Violation>) -> ApiError {
        let listed: Vec<String> = details.iter().map(|v| format!("{}: {}", v.path, v.message)).collect();
        let message = format!("{summary}: {}", listed.join("; "));
        ApiError::Flow {
            status: StatusCode::BAD_REQUEST,
            code: "1001",
            title: title_of(StatusCode::BAD_REQUEST),
            message,
            details,
        }
    }

    /// A gateway-level refusal.
    pub fn gateway(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Gateway {
            status,
            code,
            message: message.into(),
        }
    }

    /// `1500-500`: something failed inside Inlet. The cause goes to the log, not the caller.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::flow(
            StatusCode::INTERNAL_SERVER_ERROR,
            "1500",
            "Inlet failed to handle the request; the request id locates the cause in its log",
        )
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Flow { status, .. } | ApiError::Gateway { status, .. } | ApiError::OAuth { status, .. } => {
                *status
            }
        }
    }

    fn body(&self, request_id: &str) -> Value {
        match self {
            ApiError::Flow {
                status,
                code,
                title,
                message,
                details,
            } => {
                let mut report = json!({"detailed-message": message, "request-id": request_id});
                if !details.is_empty() {
                    report["details"] = json!(details);
                }
                json!({
                    "type": format!("https://ns.adobe.com/aep/errors/FLOW-{code}-{}", status.as_u16()),
                    "title": title,
                    "status": status.as_u16(),
                    "report": report,
                    "errorMessage": message,
                })
            }
            ApiError::Gateway { code, message, .. } => json!({"error_code": code, "message": message}),
            ApiError::OAuth { error, description, .. } => json!({"error": error, "error_description": description}),
        }
    }
}

fn title_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Resource not found",
        405 => "Method not allowed",
        409 => "Conflict",
        412 => "Precondition failed",
        413 => "Request body too large",
        415 => "Unsupported media type",
        429 => "Too many requests",
        _ => "Internal server error",
    }
}

impl From<ScheduleError> for ApiError {
    fn from(error: ScheduleError) -> ApiError {
        ApiError::bad_request(error.code, error.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::internal(error)
    }
}

/// Marks a response whose body [`render`] writes.
#[derive(Clone)]
struct Pending(ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(Pending(self));
        response
    }
}

/// Middleware: writes error bodies with the request id, and gives the router's own
/// bare 405 and 404 answers the Flow Service shape too.
pub async fn render(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut response = next.run(request).await;
    let error = match response.extensions_mut().remove::<Pending>() {
        Some(Pending(error)) => error,
        None if response.status() == StatusCode::METHOD_NOT_ALLOWED => ApiError::flow(
            StatusCode::METHOD_NOT_ALLOWED,
            "1004",
            "this method is not allowed on this path",
        ),
        None if is_rejection(&response) => {
            let (parts, body) = response.into_parts();
            let error = rejection(parts.status, body).await;
            response = Response::from_parts(parts, axum::body::Body::empty());
            error
        }
        None => return response,
    };
    let (mut parts, _) = response.into_parts();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = serde_json::to_vec(&error.body(&request_id)).unwrap_or_default();
    Response::from_parts(parts, body.into())
}

/// An extractor's own answer (a query string or path that does not parse): a client
/// error in plain text, which no handler writes.
fn is_rejection(response: &Response) -> bool {
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    response.status().is_client_error() && plain
}

/// The rejection as a Flow Service error: `1402` for a query string, `1000` otherwise,
/// with the extractor's words (they name the parameter, never a secret).
async fn rejection(status: StatusCode, body: axum::body::Body) -> ApiError {
    let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let code = if text.contains("query string") { "1402" } else { "1000" };
    ApiError::flow(status, code, format!("The request is not valid: {text}"))
}

/// A JSON response with a status, used by handlers for their success answers.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}
