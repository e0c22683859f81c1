//! `GET /metrics` on the operators' listener: the service's counters ([`adieu_service::Metrics`]),
//! this node's cache and hasher read at scrape time ([`NodeStats`]), and the public app's
//! requests by route template ([`track`]).

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use adieu_service::Sessions;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

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

/// The route templates seen so far, each kept once for the life of the process, so that a
/// label is a `&'static str` and a request builds none. They are the app's templates
/// (`/api/sessions/{id}`) or [`UNMATCHED`], never a raw path: a few dozen strings at most.
#[derive(Debug, Default)]
struct Routes(RwLock<HashSet<&'static str>>);

impl Routes {
    fn intern(&self, route: &str) -> &'static str {
        if let Some(known) = self.0.read().expect("not poisoned").get(route) {
            return known;
        }
        let mut routes = self.0.write().expect("not poisoned");
        if let Some(known) = routes.get(route) {
            return known;
        }
        let kept: &'static str = Box::leak(route.into());
        routes.insert(kept);
        kept
    }
}

/// Middleware of the public app: counts each request under its route template and times it.
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let http = &state.metrics.http;
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => http.routes.intern(path.as_str()),
        None => UNMATCHED,
    };
    let started = Instant::now();
    let response = next.run(request).await;
    http.durations
        .get_or_create(&RouteLabels { route })
        .observe(started.elapsed().as_secs_f64());
    http.requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
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
    fn a_route_template_is_kept_once() {
        let routes = Routes::default();
        let a = routes.intern("/api/sessions/{id}");
        let b = routes.intern(&String::from("/api/sessions/{id}"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(routes.0.read().unwrap().len(), 1);
    }
}
