//! The state every request shares: the host, the orgs, the keys, the metrics, the
//! audit writer and the lanes; and what every route does first (who calls, for
//! which org, with what body).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use crm_rules::Host;

use super::audit_log::AuditWriter;
use super::auth::{Caller, KeyStore};
use super::error::ApiError;
use super::lanes::Lanes;
use super::metrics::Metrics;
use super::orgs::{Orgs, ServedOrg};

/// The limits of requests.
pub struct Settings {
    pub max_body_bytes: usize,
    pub max_module_bytes: usize,
    /// How long a client may take to send a body.
    pub read_timeout: Duration,
    /// Threads a batch is decided on.
    pub batch_threads: usize,
}

/// The service.
pub struct Service {
    pub host: Arc<Host>,
    pub orgs: Orgs,
    pub keys: Option<KeyStore>,
    pub metrics: Metrics,
    pub audit: Option<AuditWriter>,
    pub lanes: Lanes,
    pub settings: Settings,
}

impl Service {
    /// Who calls.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        Caller::of(self.keys.as_ref(), headers).inspect_err(|e| self.metrics.rejected(e.code))
    }

    /// The org a caller asks for: 403 when the key does not reach it, 404 when it
    /// is not served.
    pub fn org(&self, caller: &Caller, org: &str) -> Result<Arc<ServedOrg>, ApiError> {
        caller
            .check_org(org)
            .inspect_err(|e| self.metrics.rejected(e.code))?;
        self.orgs.get(org).ok_or_else(|| {
            self.metrics.rejected("unknown_org");
            ApiError::unknown_org(org)
        })
    }

    /// Reads a request's body, up to `limit` bytes and within the read timeout: a
    /// client that sends too much gets 413, one that sends too slowly 408.
    pub async fn body(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<Bytes, ApiError> {
        let too_large = || {
            self.metrics.rejected("body_too_large");
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than the limit of {limit} bytes; send fewer records per request"),
            )
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let timeout = self.settings.read_timeout;
        match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => {
                let over =
                    std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                        e.source()
                    })
                    .any(|e| e.is::<http_body_util::LengthLimitError>());
                if over {
                    Err(too_large())
                } else {
                    self.metrics.rejected("body_unreadable");
                    Err(ApiError::bad_input(format!(
                        "the body could not be read: {e}"
                    )))
                }
            }
            Err(_) => {
                self.metrics.rejected("slow_body");
                Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!("the body did not arrive within {}s", timeout.as_secs_f64()),
                ))
            }
        }
    }
}
