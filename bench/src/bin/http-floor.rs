//! The HTTP floor: the least a Rust service on the stack of `crm-rules serve` can
//! spend on a request. One axum route reads a JSON body, parses it, and answers a
//! fixed JSON line; the connections are served as the service serves them
//! (hyper's HTTP/1.1 with keep-alive, `TCP_NODELAY` and a header timer, a
//! multi-threaded tokio runtime with a worker per core, mimalloc). The load
//! generator (`load floor`) drives it and the service with the same requests in
//! the same run, so the difference in CPU per request is what the service adds to
//! HTTP: keys, admission, routing to an org, the decision and its answer.
//!
//! ```sh
//! http-floor 127.0.0.1:PORT
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A fixed answer line: the floor holds HTTP and the parse of the body, nothing of
/// a decision.
const ANSWER: &str = "{\"id\":\"L-0000001\",\"ok\":true}\n";

/// Reads the body as JSON (as every decision route does) and answers the fixed
/// line; a body that is not JSON gets 400, so the parse cannot be optimised away.
async fn decide(body: Bytes) -> Response {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => ([(header::CONTENT_TYPE, "application/json")], ANSWER).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "not JSON\n").into_response(),
    }
}

fn main() {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: http-floor ADDRESS:PORT");
            std::process::exit(2)
        });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let app = Router::new().route("/v1/orgs/{org}/qualify", post(decide));
        let listener = tokio::net::TcpListener::bind(addr).await.expect("listen");
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .keep_alive(true);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let connection =
                http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    });
}
