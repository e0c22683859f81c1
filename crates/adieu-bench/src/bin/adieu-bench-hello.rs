//! The ceiling of the benchmark: a bare axum hello world, with the runtime and the HTTP/1
//! settings of `adieu serve` (the default multi-threaded tokio runtime, hyper's HTTP/1
//! builder with a header-read timeout, `TCP_NODELAY`, mimalloc) and nothing else: no layers, no state,
//! no storage. Whatever Adieu's `/api/me` costs beyond this is Adieu's own.
//!
//! Prints `hello listening on http://ADDR` once it listens; `--listen` defaults to a free
//! port on loopback.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

/// The allocator of `adieu serve`, so that the ceiling differs from Adieu only in Adieu's
/// own work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .skip_while(|a| a != "--listen")
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        println!("hello listening on http://{}", listener.local_addr()?);
        let app: Router = Router::new().route("/", get(|| async { "hello" }));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30));
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            let service = hyper::service::service_fn(move |request: Request<_>| {
                app.clone().oneshot(request.map(axum::body::Body::new))
            });
            let connection = http.serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    })
}
