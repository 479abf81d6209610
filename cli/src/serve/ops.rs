//! The routes for whoever runs the service, without a key: liveness, readiness,
//! Prometheus metrics and the OpenAPI document. They say nothing about an org's
//! records; which folders failed and why is for an admin key (`GET /v1/orgs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::service::Service;

/// Whether the service takes traffic: once the orgs folder has been looked at
/// the first time. A folder that fails to load does not make the service
/// unready (every replica sees the same folder, so they would all leave the load
/// balancer for one org's mistake); it is counted here, named with its reason in
/// `GET /v1/orgs` (admin key), and in the `crm_rules_org_folder_healthy` metric.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// The org folders have been loaded once (each, or its failure noted).
    pub ready: bool,
    /// Org folders serving a version.
    pub loaded: usize,
    /// Org folders that failed to load (and serve nothing, or an older version).
    pub failed: usize,
}

/// Liveness
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process answers.", body = super::openapi::schemas::Health))
)]
pub async fn healthz() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}\n",
    )
        .into_response()
}

/// Readiness
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The service serves: the org folders were loaded once; `failed` counts those that failed (they do not make the service unready).", body = Readiness),
        (status = 503, description = "Still loading the org folders at start.", body = Readiness)
    )
)]
pub async fn readyz(State(service): State<Arc<Service>>) -> Response {
    let statuses = service.orgs.statuses();
    let failed = statuses.iter().filter(|s| s.error.is_some()).count();
    let loaded = statuses.iter().filter(|s| s.version.is_some()).count();
    let ready = service.orgs.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            loaded,
            failed,
        }),
    )
        .into_response()
}

/// Prometheus metrics
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Decisions by org, kind and outcome; errors by code; request latency; fuel used; each org's active version; warm instances; refusals.", content_type = "application/openmetrics-text"))
)]
pub async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let text = service
        .metrics
        .render(&service.host, &service.orgs.statuses());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// An OpenAPI document, made once.
pub async fn openapi(document: axum::body::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document).into_response()
}
