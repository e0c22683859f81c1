//! `GET /metrics` on the operators' listener: the service's counters ([`adieu_service::Metrics`]),
//! this node's cache and hasher read at scrape time ([`NodeStats`]), and the public app's
//! requests by route template ([`TrackLayer`]).

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use adieu_service::Sessions;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use tower::{Layer, Service};

use crate::AppState;

/// What `prometheus-client` encodes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The label of requests that matched no route: never the raw path, which may hold a session
/// id and would grow the series without bound.
const UNMATCHED: &str = "unmatched";

/// Every metric this node serves, registered once at start-up.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    http: Arc<HttpMetrics>,
}

impl Metrics {
    /// The registry of the service's metrics, the node's and the public app's.
    pub(crate) fn new(sessions: &Arc<Sessions>) -> Self {
        let mut registry = Registry::with_prefix("adieu");
        sessions.metrics().register(&mut registry);
        registry.register_collector(Box::new(NodeCollector {
            sessions: sessions.clone(),
        }));
        let http = Arc::new(HttpMetrics::default());
        http.register(&mut registry);
        Self { registry, http }
    }

    /// The text a scrape answers with.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// `GET /metrics` (operators' listener only; `Cache-Control: no-store` is set by its layer).
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        state.metrics.encode(),
    )
        .into_response()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

fn duration_histogram() -> Histogram {
    // 100 µs (a cached token check) to about 26 s (the request timeout is 30 s).
    Histogram::new(exponential_buckets(0.000_1, 2.0, 19))
}

/// The public app's requests, by route template and status.
#[derive(Debug)]
struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    routes: Routes,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            routes: Routes::default(),
        }
    }
}

impl HttpMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "Requests to the public listener, by route template and status",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer a request to the public listener, by route template",
            Unit::Seconds,
            self.durations.clone(),
        );
    }
}

/// The route templates seen so far, each kept once for the life of the process with its
/// metric handles, so that a request builds no label and looks up one small map: the app's
/// templates (`/api/sessions/{id}`) or [`UNMATCHED`], never a raw path, so a few dozen at most.
#[derive(Debug, Default)]
struct Routes(RwLock<HashMap<&'static str, Arc<RouteMetrics>, BuildHasherDefault<Fnv>>>);

/// One route's series: its duration histogram, and its request counter per status seen.
#[derive(Debug)]
struct RouteMetrics {
    route: &'static str,
    duration: Histogram,
    statuses: RwLock<Vec<(u16, Counter)>>,
}

impl Routes {
    fn get(&self, http: &HttpMetrics, route: &str) -> Arc<RouteMetrics> {
        if let Some(known) = self.0.read().expect("not poisoned").get(route) {
            return known.clone();
        }
        let mut routes = self.0.write().expect("not poisoned");
        if let Some(known) = routes.get(route) {
            return known.clone();
        }
        let kept: &'static str = Box::leak(route.into());
        let metrics = Arc::new(RouteMetrics {
            route: kept,
            duration: http
                .durations
                .get_or_create(&RouteLabels { route: kept })
                .clone(),
            statuses: RwLock::default(),
        });
        routes.insert(kept, metrics.clone());
        metrics
    }
}

impl RouteMetrics {
    /// Counts one answer with this status, and times it.
    fn record(&self, http: &HttpMetrics, status: u16, took: f64) {
        self.duration.observe(took);
        let counted = self
            .statuses
            .read()
            .expect("not poisoned")
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, counter)| counter.inc())
            .is_some();
        if !counted {
            let counter = http
                .requests
                .get_or_create(&RequestLabels {
                    route: self.route,
                    status,
                })
                .clone();
            counter.inc();
            let mut statuses = self.statuses.write().expect("not poisoned");
            if !statuses.iter().any(|(s, _)| *s == status) {
                statuses.push((status, counter));
            }
        }
    }
}

/// FNV-1a, for the few route templates of this server (keys it chose itself, so no one can
/// pick colliding ones): cheaper than SipHash on every request.
#[derive(Debug, Default, Clone, Copy)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// The layer of the public app that counts each request under its route template and times
/// it. A hand-written layer rather than `middleware::from_fn`, which boxes and clones the
/// rest of the stack on every request.
#[derive(Clone)]
pub(crate) struct TrackLayer {
    http: Arc<HttpMetrics>,
}

impl TrackLayer {
    pub(crate) fn new(metrics: &Metrics) -> Self {
        Self {
            http: metrics.http.clone(),
        }
    }
}

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            http: self.http.clone(),
        }
    }
}

/// The service of [`TrackLayer`].
#[derive(Clone)]
pub(crate) struct Track<S> {
    inner: S,
    http: Arc<HttpMetrics>,
}

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = match request.extensions().get::<MatchedPath>() {
            Some(path) => self.http.routes.get(&self.http, path.as_str()),
            None => self.http.routes.get(&self.http, UNMATCHED),
        };
        Tracked {
            inner: self.inner.call(request),
            http: self.http.clone(),
            route,
            started: Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`Track`]: counted and timed when it is ready.
    pub(crate) struct Tracked<F> {
        #[pin]
        inner: F,
        http: Arc<HttpMetrics>,
        route: Arc<RouteMetrics>,
        started: Instant,
    }
}

impl<F, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            let took = this.started.elapsed().as_secs_f64();
            this.route
                .record(this.http, response.status().as_u16(), took);
        }
        Poll::Ready(result)
    }
}

/// This node's counts that others keep already, read at each scrape rather than counted twice.
#[derive(Debug)]
struct NodeCollector {
    sessions: Arc<Sessions>,
}

impl Collector for NodeCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let hasher = self.sessions.hasher().stats();
        NodeStats {
            cache: self
                .sessions
                .storage()
                .health()
                .cache
                .map(|(_, hits, misses)| (hits, misses)),
            hashes_admitted: hasher.admitted,
            hashes_running: hasher.running,
        }
        .encode(encoder)
    }
}

/// A snapshot of the token cache's and the password hasher's own counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NodeStats {
    /// Hits and misses, when the cache is on.
    cache: Option<(u64, u64)>,
    /// Password hashes admitted: running, or waiting for a place to run.
    hashes_admitted: usize,
    /// Password hashes running.
    hashes_running: usize,
}

impl Collector for NodeStats {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some((hits, misses)) = self.cache {
            let hits = ConstCounter::new(hits);
            hits.encode(encoder.encode_descriptor(
                "cache_hits",
                "Token checks answered from this node's cache",
                None,
                hits.metric_type(),
            )?)?;
            let misses = ConstCounter::new(misses);
            misses.encode(encoder.encode_descriptor(
                "cache_misses",
                "Token checks this node's cache could not answer",
                None,
                misses.metric_type(),
            )?)?;
        }
        let admitted = ConstGauge::new(i64::try_from(self.hashes_admitted).unwrap_or(i64::MAX));
        admitted.encode(encoder.encode_descriptor(
            "password_hash_queue",
            "Password hashes admitted: running or waiting (beyond the queue, 429)",
            None,
            admitted.metric_type(),
        )?)?;
        let running = ConstGauge::new(i64::try_from(self.hashes_running).unwrap_or(i64::MAX));
        running.encode(encoder.encode_descriptor(
            "password_hashes_running",
            "Password hashes running now",
            None,
            running.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(stats: NodeStats) -> String {
        let mut registry = Registry::with_prefix("adieu");
        registry.register_collector(Box::new(stats));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn the_node_collector_reports_the_cache_and_the_hash_queue_as_they_are() {
        let text = scrape(NodeStats {
            cache: Some((7, 2)),
            hashes_admitted: 3,
            hashes_running: 1,
        });
        assert!(text.contains("# TYPE adieu_cache_hits counter"), "{text}");
        assert!(text.contains("adieu_cache_hits_total 7\n"), "{text}");
        assert!(text.contains("adieu_cache_misses_total 2\n"), "{text}");
        assert!(text.contains("adieu_password_hash_queue 3\n"), "{text}");
        assert!(text.contains("adieu_password_hashes_running 1\n"), "{text}");
    }

    #[test]
    fn without_a_cache_there_are_no_cache_counters() {
        let text = scrape(NodeStats {
            cache: None,
            hashes_admitted: 0,
            hashes_running: 0,
        });
        assert!(!text.contains("cache"), "{text}");
        assert!(text.contains("adieu_password_hash_queue 0\n"), "{text}");
    }

    #[test]
    fn a_route_template_is_kept_once_with_one_counter_per_status() {
        let http = HttpMetrics::default();
        let a = http.routes.get(&http, "/api/sessions/{id}");
        let b = http.routes.get(&http, &String::from("/api/sessions/{id}"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(std::ptr::eq(a.route, b.route));
        assert_eq!(http.routes.0.read().unwrap().len(), 1);
        for status in [204, 404, 204] {
            a.record(&http, status, 0.001);
        }
        let counts: Vec<(u16, u64)> = a
            .statuses
            .read()
            .unwrap()
            .iter()
            .map(|(s, c)| (*s, c.get()))
            .collect();
        assert_eq!(counts, [(204, 2), (404, 1)]);
        // The handles are the registered series, not copies.
        let label = RequestLabels {
            route: "/api/sessions/{id}",
            status: 204,
        };
        assert_eq!(http.requests.get_or_create(&label).get(), 2);
    }

    #[test]
    fn fnv_tells_route_templates_apart() {
        let hash = |s: &str| {
            let mut h = Fnv::default();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_ne!(hash("/api/me"), hash("/api/sessions"));
        assert_eq!(hash("/api/me"), hash("/api/me"));
    }
}
