//! What every `/v1` request passes before its handler: a place among the requests
//! in flight (a full service answers 503 with `Retry-After` at once, rather than
//! queueing work it cannot finish in time), and the deadline of the whole request.
//! The answer's status is counted on the way out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::error::ApiError;
use super::service::Service;

/// The places and the deadline.
pub struct Admission {
    pub service: Arc<Service>,
    pub places: Arc<Semaphore>,
    pub deadline: Duration,
}

/// Admits a request, or refuses it when the service is full.
pub async fn admit(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    let metrics = &admission.service.metrics;
    let Ok(_place) = admission.places.clone().try_acquire_owned() else {
        metrics.rejected("overloaded");
        metrics.response(503);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the service is handling as many requests as it may; retry shortly",
        )
        .retry_after(1)
        .into_response();
    };
    let started = Instant::now();
    let logged = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| format!("{} {}", request.method(), request.uri().path()));
    // Counted down however the request ends, a client hanging up included.
    let _in_flight = InFlight::enter(&admission.service);
    let response = match tokio::time::timeout(admission.deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics.rejected("deadline_exceeded");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "deadline_exceeded",
                format!(
                    "the request took longer than the service's deadline of {}s",
                    admission.deadline.as_secs_f64()
                ),
            )
            .retry_after(1)
            .into_response()
        }
    };
    metrics.response(response.status().as_u16());
    if let Some(request) = logged {
        tracing::debug!(
            "{request} {} in {:?}",
            response.status().as_u16(),
            started.elapsed()
        );
    }
    response
}

/// A request in flight, on the gauge while it lives.
struct InFlight<'a>(&'a Service);

impl<'a> InFlight<'a> {
    fn enter(service: &'a Service) -> InFlight<'a> {
        service.metrics.in_flight().inc();
        InFlight(service)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.metrics.in_flight().dec();
    }
}
