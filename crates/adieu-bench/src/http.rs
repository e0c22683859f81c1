//! The load generator: plain HTTP/1.1 keep-alive connections, one request in flight on each.
//!
//! It uses hyper's connection API directly, without a pool, so that as little of the
//! machine as possible goes to the client: on a two-core machine the client and the server
//! compete for the same cores, and a heavy client would flatten every difference between
//! endpoints.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One keep-alive connection to a node.
pub(crate) struct Conn {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

/// The status of an answer whose body was read to the end, so that the connection can be
/// reused.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
}

impl Conn {
    /// Opens a connection.
    pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        // The connection task ends by itself when `sender` is dropped.
        tokio::spawn(connection);
        Ok(Self { addr, sender })
    }

    /// Sends a request and reads the whole answer.
    pub(crate) async fn send(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<Answer> {
        self.sender.ready().await.context("connection closed")?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        Ok(Answer { status })
    }

    /// Opens a fresh connection in place of a broken one.
    pub(crate) async fn reconnect(&mut self) -> anyhow::Result<()> {
        *self = Self::connect(self.addr).await?;
        Ok(())
    }
}

/// `Authorization: Bearer …`, built once per token rather than once per request.
pub(crate) fn bearer(token: &str) -> HeaderValue {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {token}")).expect("tokens are header-safe ASCII");
    value.set_sensitive(true);
    value
}

/// A GET to a node, optionally with a bearer token.
pub(crate) fn get(path: &str, auth: Option<&HeaderValue>) -> Request<Full<Bytes>> {
    request(Method::GET, NODE_HOST, path, auth, None)
}

/// The `Host` of requests sent straight to a node.
pub(crate) const NODE_HOST: &str = "127.0.0.1";

/// A request with this `Host` and `Authorization`, and a form body if given.
pub(crate) fn request(
    method: Method,
    host: &str,
    path: &str,
    auth: Option<&HeaderValue>,
    form: Option<Bytes>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, host);
    if let Some(auth) = auth {
        builder = builder.header(AUTHORIZATION, auth.clone());
    }
    if form.is_some() {
        builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    builder
        .body(Full::new(form.unwrap_or_default()))
        .expect("a static, valid request")
}

/// What a fixed-duration, fixed-concurrency run produced.
#[derive(Debug, Default)]
pub(crate) struct LoadResult {
    /// 2xx answers.
    pub(crate) ok: u64,
    /// Other answers.
    pub(crate) not_ok: u64,
    /// Requests that failed below HTTP (connection reset, refused…).
    pub(crate) transport_errors: u64,
    /// From the first request to the last answer.
    pub(crate) elapsed: Duration,
    /// Latency of every 2xx answer.
    pub(crate) latencies: Vec<Duration>,
}

impl LoadResult {
    /// 2xx answers per second.
    pub(crate) fn ok_per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// `connections` connections send the request `make(i)` (for connection `i`) back to back
/// for `duration`.
pub(crate) async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    make: impl Fn(usize) -> Request<Full<Bytes>> + Clone + Send + 'static,
) -> anyhow::Result<LoadResult> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::connect(addr).await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = tokio::task::JoinSet::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let make = make.clone();
        workers.spawn(async move {
            let mut result = LoadResult::default();
            while Instant::now() < deadline {
                let sent = Instant::now();
                match conn.send(make(i)).await {
                    Ok(answer) if answer.status.is_success() => {
                        result.ok += 1;
                        result.latencies.push(sent.elapsed());
                    }
                    Ok(_) => result.not_ok += 1,
                    Err(_) => {
                        result.transport_errors += 1;
                        // Bounded: one reconnection attempt per failed request, and the
                        // loop ends at the deadline anyway.
                        if conn.reconnect().await.is_err() {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }
            result
        });
    }
    let mut total = LoadResult::default();
    while let Some(joined) = workers.join_next().await {
        let r = joined.context("load worker panicked")?;
        total.ok += r.ok;
        total.not_ok += r.not_ok;
        total.transport_errors += r.transport_errors;
        total.latencies.extend(r.latencies);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}
