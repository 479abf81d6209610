//! The service's own refusals (a bad key, an unknown org, a body too large, a full
//! service) as HTTP answers: a status and `{"error": {"code", "message"}}`, the
//! shape of an error on a decision line, so a client reads both the same way.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The body of every refusal.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, as a code a program can branch on and a sentence for a person.
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// e.g. `unauthorized`, `forbidden`, `unknown_org`, `invalid_input`,
    /// `body_too_large`, `overloaded`, `deadline_exceeded`.
    pub code: &'static str,
    /// What happened, for a person.
    pub message: String,
}

/// A refusal: its status, code and message, and how long to wait before retrying.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_secs: Option<u32>,
    /// Whether to ask for a bearer key (`WWW-Authenticate`), on a 401.
    pub challenge: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
            challenge: false,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn unknown_org(org: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_org",
            format!("no org `{org}` is served here"),
        )
    }

    /// A refusal the client may retry after `secs` seconds.
    pub fn retry_after(mut self, secs: u32) -> ApiError {
        self.retry_after_secs = Some(secs);
        self
    }

    /// An error of the host library, by what it means for the client.
    pub fn from_host(error: &crm_rules::Error) -> ApiError {
        use crm_rules::Error;
        let status = match error {
            Error::UnknownOrg { .. } => StatusCode::NOT_FOUND,
            Error::Integrity { .. } => StatusCode::FORBIDDEN,
            Error::Version { .. } => StatusCode::CONFLICT,
            Error::Module { .. } | Error::Policy { .. } | Error::Trap { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = match error {
            Error::UnknownOrg { .. } => "unknown_org",
            Error::Integrity { .. } => "integrity",
            Error::Version { .. } => "version",
            Error::Module { .. } => "module",
            Error::Policy { .. } => "policy",
            Error::Trap { .. } => "module_stopped",
            _ => "host",
        };
        ApiError::new(status, code, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"crm-rules\""),
            );
        }
        response
    }
}

/// The code of a refusal made by the HTTP layers under the routes (axum's 405,
/// its rejections), by its status.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        s if s.is_server_error() => "host",
        _ => "refused",
    }
}

/// Whether an answer's body is JSON already.
fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The most of a non-JSON refusal's text kept as its message.
const MESSAGE_BYTES: usize = 4096;

/// Gives every 4xx and 5xx answer the one error body, `{"error": {"code",
/// "message"}}`: the refusals the routes make have it already; this catches
/// those of the layers under them (axum's empty 405, its text rejections), so a
/// client reads every refusal the same way. Headers (`Allow`, `Retry-After`)
/// stay.
pub async fn shaped(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MESSAGE_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            "this route does not take this method (the `Allow` header names those it takes)"
                .to_owned()
        }
        (_, false) => text,
        (_, true) => status.canonical_reason().unwrap_or("refused").to_owned(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let mut shaped = ApiError::new(status, code_of(status), message).into_response();
    for (name, value) in &parts.headers {
        shaped.headers_mut().insert(name, value.clone());
    }
    shaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_refusal_has_a_code() {
        assert_eq!(
            code_of(StatusCode::METHOD_NOT_ALLOWED),
            "method_not_allowed"
        );
        assert_eq!(
            code_of(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            "headers_too_large"
        );
        assert_eq!(code_of(StatusCode::BAD_GATEWAY), "host");
        assert_eq!(code_of(StatusCode::IM_A_TEAPOT), "refused");
    }
}
