//! The service's own refusals (a bad key, an unknown org, a body too large, a full
//! service) as HTTP answers: a status and `{"error": {"code", "message"}}`, the
//! shape of an error on a decision line, so a client reads both the same way.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every refusal.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, as a code a program can branch on and a sentence for a person.
#[derive(Debug, Serialize, ToSchema)]
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
