//! `crm-rules serve`: the decisions of every org folder under `--orgs`, over HTTP,
//! for middleware written in any language.
//!
//! ```text
//!  request ─► admission (places, deadline) ─► key ─► org ─► body ─► lane ─► pipeline ─► audit ─► answer
//!                                                                   inline | pool | quarantine
//! ```
//!
//! Each concern is a module: `keys` (the keys file), `auth` (who calls), `orgs`
//! (the folders served), `lanes` (which thread decides), `decide` (the decision
//! routes, through the library's pipeline, as the program decides), `manage` (the
//! admin routes), `ops` (health, readiness, metrics), `metrics`, `audit_log` (the
//! one writer), `watch` (hot reload), `openapi`, `admission`, `server`
//! (connections and shutdown).
//!
//! Crates: axum on tokio and hyper for HTTP (the most used Rust HTTP stack, with
//! typed extractors and no macros in the request path); `prometheus-client` for
//! metrics; `utoipa` for the OpenAPI document, generated from the handlers' types;
//! `notify` for file watching; `rayon` and `thread-priority` for the quarantine
//! lane. docs/deployment.md tells how to run it.

mod admission;
mod audit_log;
mod auth;
mod content;
mod decide;
mod error;
mod events;
mod hangup;
pub mod keys;
mod labels;
mod lanes;
mod manage;
mod metrics;
mod openapi;
mod ops;
mod orgs;
mod request_id;
mod server;
mod service;
mod watch;
mod wire;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use crm_rules::audit::AuditKey;
use crm_rules::Host;
use tokio::sync::Semaphore;

use super::flags::{OrgArgs, ServeArgs};
use admission::Admission;
use audit_log::AuditWriter;
use auth::KeyStore;
use error::ApiError;
use lanes::Lanes;
use metrics::Metrics;
use orgs::Orgs;
use service::{Service, Settings};

fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("--{flag} must be a positive number of seconds, not {value}"))
}

fn router(
    service: Arc<Service>,
    admission: Arc<Admission>,
    documents: &openapi::Documents,
) -> Router {
    let v1 = Router::new()
        .route("/v1/orgs", get(manage::list_orgs))
        .route("/v1/orgs/{org}/qualify", post(decide::qualify))
        .route("/v1/orgs/{org}/convert", post(decide::convert))
        .route("/v1/orgs/{org}/transition", post(decide::transition))
        .route("/v1/orgs/{org}/forecast", post(decide::forecast))
        .route("/v1/orgs/{org}/events/{crm}", post(events::events))
        .route("/v1/orgs/{org}/stages", get(decide::stages))
        .route("/v1/orgs/{org}/module", get(decide::module))
        .route(
            "/v1/orgs/{org}/versions",
            get(manage::versions).post(manage::upload),
        )
        .route(
            "/v1/orgs/{org}/versions/{version}",
            axum::routing::delete(manage::remove_version),
        )
        .route(
            "/v1/orgs/{org}/versions/{version}/activate",
            post(manage::activate),
        )
        .route("/v1/orgs/{org}/rollback", post(manage::rollback))
        .route("/v1/orgs/{org}/reload", post(manage::reload))
        .layer(axum::middleware::from_fn_with_state(
            admission,
            admission::admit,
        ))
        .with_state(service.clone());
    let ops = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(service);
    let document = |text: &str| {
        let text = Bytes::from(text.to_owned());
        get(move || ops::openapi(text.clone()))
    };
    let documents = Router::new()
        .route("/openapi.json", document(&documents.v3_1))
        .route("/openapi-3.0.json", document(&documents.v3_0));
    v1.merge(ops)
        .merge(documents)
        .fallback(not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn(error::shaped))
        .layer(axum::middleware::from_fn(request_id::tag))
}

async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route (the routes are in /openapi.json)",
    )
    .into_response()
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "host",
        "the service failed on this request",
    )
    .into_response()
}

/// Runs the service until SIGINT or SIGTERM (SIGHUP reloads).
pub fn run(host: Arc<Host>, args: &ServeArgs, org_args: &OrgArgs) -> anyhow::Result<ExitCode> {
    if args.keys.is_none() && !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve on {} without --keys: anyone who reaches that address could \
             ask any org's decisions and manage its modules; make keys with \
             `crm-rules keys add ORG --keys FILE`, or listen on a loopback address",
            args.listen
        );
    }
    if !args.orgs.is_dir() {
        anyhow::bail!("--orgs {}: not a folder", args.orgs.display());
    }
    let deadline = seconds("deadline", args.deadline)?;
    let read_timeout = seconds("read-timeout", args.read_timeout)?;
    let grace = seconds("shutdown-grace", args.shutdown_grace)?;
    let keys = args.keys.clone().map(KeyStore::open).transpose()?;
    let audit = match &args.audit_dir {
        Some(dir) => Some(AuditWriter::start(
            dir.clone(),
            super::audit::audit_key(org_args, AuditKey::load_or_create)?,
            (args.audit_rotate_bytes > 0).then_some(args.audit_rotate_bytes),
        )?),
        None => None,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let service = Arc::new(Service {
        host,
        orgs: Orgs::new(args.orgs.clone()),
        keys,
        metrics: Metrics::new(),
        audit,
        lanes: Lanes::new(cores)?,
        settings: Settings {
            max_body_bytes: args.max_body_bytes,
            max_module_bytes: args.max_module_bytes,
            read_timeout,
            batch_threads: cores,
            keep_versions: args.keep_versions,
        },
    });
    let admission = Arc::new(Admission {
        service: service.clone(),
        places: Arc::new(Semaphore::new(args.max_in_flight.max(1))),
        deadline,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.unwrap_or(cores).max(1))
        .max_blocking_threads(4 * cores + 4)
        .thread_name("crm-rules-serve")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracing::info!(
            "listening on http://{}{}",
            listener.local_addr()?,
            if service.keys.is_some() {
                ""
            } else {
                " without keys (loopback only)"
            }
        );
        // Watching starts before the first scan, so no change in between is missed.
        let watching = match watch::start(service.clone()) {
            Ok(watching) => Some(watching),
            Err(e) => {
                tracing::warn!("changes on disk will not be picked up: {e}");
                None
            }
        };
        hangup::listen(service.clone());
        let loader = service.clone();
        tokio::task::spawn_blocking(move || {
            loader.orgs.sync(&loader.host, &loader.metrics);
            let statuses = loader.orgs.statuses();
            let failed = statuses.iter().filter(|s| s.error.is_some()).count();
            if failed == 0 {
                tracing::info!("ready: {} orgs loaded", statuses.len());
            } else {
                tracing::warn!(
                    "ready: {} of {} org folders failed to load (see above, or GET /v1/orgs); \
                     the others serve",
                    failed,
                    statuses.len()
                );
            }
        });
        let app = router(service.clone(), admission, &openapi::documents());
        let connections = server::Connections {
            header_timeout: read_timeout,
            grace,
        };
        server::serve(listener, app, &connections, server::shutdown_signal()).await;
        drop(watching);
        anyhow::Ok(())
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    if let Some(audit) = &service.audit {
        audit.close();
    }
    served?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
