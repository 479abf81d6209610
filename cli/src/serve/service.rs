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
use super::content::{self, Encoding, Expected, Undecoded};
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
    /// Versions kept per org; older ones that are not active are removed after
    /// an upload.
    pub keep_versions: usize,
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

    /// Reads a request's body of the kind the route reads, up to `limit` bytes
    /// (compressed and decoded) and within the read timeout: a body of another
    /// type or encoding gets 415, one too large 413, one too slow 408. A gzip body
    /// is decoded, and a records body loses its byte order mark.
    pub async fn body(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
        expected: Expected,
    ) -> Result<Bytes, ApiError> {
        let encoding = content::check_type(headers, expected)
            .and_then(|()| content::encoding(headers))
            .inspect_err(|e| {
                self.metrics.rejected(e.code);
            });
        let encoding = match encoding {
            Ok(encoding) => encoding,
            Err(e) => {
                linger(body, self.settings.read_timeout);
                return Err(e);
            }
        };
        let read = self.read(headers, body, limit).await?;
        let decoded = match encoding {
            Encoding::Identity => read,
            Encoding::Gzip => {
                let inflated = tokio::task::spawn_blocking(move || content::gunzip(&read, limit))
                    .await
                    .map_err(|_| {
                        ApiError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "host",
                            "the body's decoding was lost (a thread of the service stopped)",
                        )
                    })?;
                match inflated {
                    Ok(bytes) => bytes,
                    Err(Undecoded::TooLarge) => {
                        self.metrics.rejected("body_too_large");
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "body_too_large",
                            format!(
                                "the gzip body decodes to more than the limit of {limit} bytes; \
                                 send fewer records per request"
                            ),
                        ));
                    }
                    Err(Undecoded::Broken(e)) => {
                        self.metrics.rejected("body_unreadable");
                        return Err(ApiError::bad_input(format!(
                            "the body is marked `Content-Encoding: gzip` but cannot be decoded: {e}"
                        )));
                    }
                }
            }
        };
        Ok(match expected {
            Expected::Records => content::without_bom(decoded),
            // A module, and an event whose signature covers the bytes as sent.
            Expected::Module | Expected::Event => decoded,
        })
    }

    /// Reads a request's body as sent, up to `limit` bytes and within the read
    /// timeout: a client that sends too much gets 413, one that sends too slowly 408.
    async fn read(&self, headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
        let too_large = |body: Body| {
            self.metrics.rejected("body_too_large");
            linger(body, self.settings.read_timeout);
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the body is larger than the limit of {limit} bytes; send fewer records \
                     per request"
                ),
            )
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large(body));
        }
        let timeout = self.settings.read_timeout;
        match tokio::time::timeout(timeout, read_limited(body, limit)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(Unread::TooLarge(body))) => Err(too_large(body)),
            Ok(Err(Unread::Failed(e))) => {
                self.metrics.rejected("body_unreadable");
                Err(ApiError::bad_input(format!(
                    "the body could not be read: {e}"
                )))
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

/// Why a body was not read.
enum Unread {
    /// It goes past the limit; the rest of it is still to come.
    TooLarge(Body),
    Failed(axum::Error),
}

/// Reads a body of at most `limit` bytes. A body that comes in one piece (most
/// do) is not copied.
async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, Unread> {
    use http_body_util::BodyExt as _;
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(Unread::Failed)?.into_data() else {
            continue;
        };
        let held = first.as_ref().map_or(0, Bytes::len) + joined.len();
        if held + data.len() > limit {
            return Err(Unread::TooLarge(body));
        }
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            None => joined.extend_from_slice(&data),
            Some(piece) => {
                joined.extend_from_slice(&piece);
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(joined)))
}

/// The most of a refused body read and thrown away.
const LINGER_BYTES: u64 = 256 << 20;

/// Reads and throws away the rest of a refused body (up to a bound and the read
/// timeout), so a client that writes its whole body before it reads gets the
/// refusal instead of a broken connection, as web servers' lingering close does.
fn linger(mut body: Body, timeout: Duration) {
    use http_body_util::BodyExt as _;
    tokio::spawn(async move {
        let mut read = 0u64;
        let drain = async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    read += data.len() as u64;
                }
                if read > LINGER_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, drain).await;
    });
}
