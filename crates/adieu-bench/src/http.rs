//! HTTP to the nodes, for the loads and the few set-up calls alike: plain HTTP/1.1 keep-alive
//! connections on hyper's connection API, one request in flight on each.
//!
//! No pool and no client library, so that as little of the machine as possible goes to the
//! client: on a two-core machine the client and the server compete for the same cores, and a
//! heavy client would flatten every difference between endpoints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stats::Latency;

/// A request the benchmark sends.
pub(crate) type Req = Request<Full<Bytes>>;

/// The password of every user the benchmark registers.
pub(crate) const PASSWORD: &str = "benchmark password, long enough";

/// One keep-alive connection.
pub(crate) struct Conn(SendRequest<Full<Bytes>>);

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await.context(addr)?;
        stream.set_nodelay(true)?;
        let (sender, connection) = handshake(TokioIo::new(stream)).await?;
        // The connection task ends by itself when the sender is dropped.
        tokio::spawn(connection);
        Ok(Self(sender))
    }

    /// Sends a request and reads the whole answer, so that the connection can be reused.
    pub(crate) async fn send(&mut self, request: Req) -> anyhow::Result<Response<Bytes>> {
        self.0.ready().await.context("connection closed")?;
        let (head, body) = self.0.send_request(request).await?.into_parts();
        Ok(Response::from_parts(head, body.collect().await?.to_bytes()))
    }

    /// Whether the other side may still answer on it.
    pub(crate) fn is_open(&self) -> bool {
        !self.0.is_closed()
    }

    /// Whether `GET /api/me` with `auth` is accepted.
    pub(crate) async fn me(&mut self, auth: &HeaderValue) -> anyhow::Result<bool> {
        let answer = self.send(request("GET /api/me", Some(auth), None)).await?;
        Ok(answer.status().is_success())
    }
}

/// `Authorization: Bearer …`, built once per token rather than once per request.
pub(crate) fn bearer(token: &str) -> HeaderValue {
    let value = HeaderValue::from_str(&format!("Bearer {token}"));
    let mut value = value.expect("tokens are header-safe");
    value.set_sensitive(true);
    value
}

/// `"METHOD /path"` to a node, with `Authorization` if given, and a body with its content type.
pub(crate) fn request(line: &str, auth: Option<&HeaderValue>, body: Option<(&str, String)>) -> Req {
    let (method, path) = line.split_once(' ').expect("METHOD /path");
    let method = Method::from_bytes(method.as_bytes()).expect("a method");
    let mut r = Request::builder().method(method).uri(path);
    r = r.header(HOST, "127.0.0.1");
    if let Some(auth) = auth {
        r = r.header(AUTHORIZATION, auth);
    }
    let (kind, body) = body.unwrap_or_default();
    if !kind.is_empty() {
        r = r.header(CONTENT_TYPE, kind);
    }
    r.body(Full::new(body.into())).expect("a valid request")
}

/// `POST` of a JSON body.
pub(crate) fn json(line: &str, auth: Option<&HeaderValue>, body: serde_json::Value) -> Req {
    request(line, auth, Some(("application/json", body.to_string())))
}

/// The body of a login or a registration of `user`.
pub(crate) fn credentials(user: &str) -> serde_json::Value {
    serde_json::json!({ "username": user, "password": PASSWORD })
}

/// A request to send over and over: connection `i` sends `make(i)`.
pub(crate) type MakeRequest = Arc<dyn Fn(usize) -> Req + Send + Sync>;

/// What one closed-loop load produced: 2xx answers per second, their latency, the other answers
/// and the requests that failed below HTTP (connection reset, refused…), and the cores each
/// watched process used meanwhile (filled in by whoever watched).
#[derive(Debug, Clone, Default)]
pub(crate) struct Rate {
    pub(crate) per_sec: f64,
    pub(crate) latency: Option<Latency>,
    pub(crate) errors: u64,
    pub(crate) cores: Vec<f64>,
}

/// `connections` connections send `make(i)` (for connection `i`) back to back for `duration`.
pub(crate) async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    make: MakeRequest,
) -> anyhow::Result<Rate> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(addr).await?);
    }
    let (start, mut workers) = (Instant::now(), tokio::task::JoinSet::new());
    for (i, mut conn) in conns.into_iter().enumerate() {
        let make = make.clone();
        workers.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            while start.elapsed() < duration {
                let sent = Instant::now();
                match conn.send(make(i)).await {
                    Ok(a) if a.status().is_success() => latencies.push(sent.elapsed()),
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        // Bounded: one reconnection per failed request, until the deadline.
                        match Conn::open(addr).await {
                            Ok(fresh) => conn = fresh,
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while let Some(joined) = workers.join_next().await {
        let (l, e) = joined.context("load worker panicked")?;
        (errors, _) = (errors + e, latencies.extend(l));
    }
    let per_sec = latencies.len() as f64 / start.elapsed().as_secs_f64();
    let latency = Latency::of(&latencies);
    Ok(Rate {
        per_sec,
        latency,
        errors,
        cores: Vec::new(),
    })
}
