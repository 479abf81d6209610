//! `X-Request-Id`: a caller's id is echoed on the answer (when it is a plain
//! token a log can hold), and a request without one gets one made here, so a
//! caller, a load balancer and this service's log can name the same request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The header, as load balancers and tracing proxies name it.
pub const HEADER: &str = "x-request-id";

/// The longest id taken from a caller.
const MAX_LEN: usize = 128;

/// A caller's id when it is 1 to 128 visible ASCII characters.
fn taken(value: &HeaderValue) -> Option<HeaderValue> {
    let bytes = value.as_bytes();
    let plain =
        !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic());
    plain.then(|| value.clone())
}

/// A new id: this process's random prefix and a counter, unique without a
/// random draw per request.
fn made() -> HeaderValue {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 6];
        // Without randomness the ids still differ within this process.
        let _ = getrandom::fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    });
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("{prefix}-{n:x}"))
        .unwrap_or_else(|_| HeaderValue::from_static("unnamed"))
}

/// Tags the request and its answer with an id.
pub async fn tag(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(taken)
        .unwrap_or_else(made);
    request.headers_mut().insert(HEADER, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(HEADER, id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_kept_and_others_replaced() {
        let kept = HeaderValue::from_static("req-42/a.b");
        assert_eq!(taken(&kept), Some(kept));
        assert_eq!(taken(&HeaderValue::from_static("two words")), None);
        assert_eq!(taken(&HeaderValue::from_static("")), None);
        let long = HeaderValue::from_str(&"x".repeat(129)).unwrap();
        assert_eq!(taken(&long), None);
        assert_ne!(made(), made());
    }
}
