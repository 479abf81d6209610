//! Connections: accepted on the listener and served with hyper's HTTP/1.1 (keep-
//! alive, `TCP_NODELAY`, a deadline for a request's headers so a client that never
//! finishes them cannot hold a connection), until the shutdown signal. Then the
//! listener closes, idle connections are closed, and requests in flight get the
//! grace period to finish.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use super::wire::Shaped;

/// How connections are served.
pub struct Connections {
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long requests in flight get to finish after the shutdown signal.
    pub grace: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes; returns once every
/// connection is closed (or the grace period is over).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    connections: &Connections,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(connections.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, most likely: let connections close.
                        tracing::warn!("cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Answers are small and written whole: send them at once.
                let _ = stream.set_nodelay(true);
                let connection = http.serve_connection(
                    TokioIo::new(Shaped::new(stream)),
                    TowerToHyperService::new(app.clone()),
                );
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(
        "shutting down: no new connections; requests in flight get {}s to finish",
        connections.grace.as_secs_f64()
    );
    match tokio::time::timeout(connections.grace, graceful.shutdown()).await {
        Ok(()) => tracing::info!("every connection closed"),
        Err(_) => tracing::warn!("the grace period is over; the requests still open are cut off"),
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what an orchestrator sends).
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
