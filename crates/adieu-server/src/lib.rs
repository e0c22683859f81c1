//! Adieu's HTTP server: the JSON API and the web pages, over the session service
//! ([`adieu_service`]).
//!
//! [`Server::build`] opens storage, binds the listener (port 0 allowed) and returns a server
//! whose [`Server::local_addr`] is known before it runs; tests and `adieu serve` both use it.

pub mod config;
pub mod error;
#[cfg(feature = "test-support")]
pub mod test_support;

mod admin;
mod api;
mod authz;
mod connections;
mod extract;
pub mod forwarded;
// Entry points for the fuzz targets; why a module of its own, in the module.
#[doc(hidden)]
pub mod fuzzing;
mod metrics;
mod oauth;
pub mod openapi;
mod pages;
mod timeout;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use adieu_core::PasswordHasher;
use adieu_store::CacheStatus;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

pub use adieu_service::{ClientInfo, Sessions};
pub use config::Config;
pub use error::{Error, Result};
pub use pages::cookie::name as session_cookie_name;

/// Shared state of every handler: one `Arc`, since axum clones the state for every request
/// (one reference count to touch rather than one per part).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares; its fields read through the state itself (`state.sessions`).
pub struct Shared {
    /// The session service.
    pub sessions: Arc<Sessions>,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Whether the last periodic database check succeeded.
    database_ok: AtomicBool,
    /// Everything `/metrics` reports.
    metrics: Arc<metrics::Metrics>,
    /// The OAuth issuer, computed once (`oauth::issuer`).
    issuer: String,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The whole application as a router, without a listener.
pub fn app(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit;
    let tracked = state.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .merge(api::router())
        .merge(authz::router())
        .merge(oauth::router())
        .merge(openapi::router())
        .merge(pages::router(&state.config))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // One stack in one `layer` call: each call wraps every route in a boxed service of
        // its own, which a request then clones, allocates and polls, one level per call.
        // The first layer is the outermost.
        .layer(
            ServiceBuilder::new()
                // Outermost of all, so that a timeout's 408 is counted and timed too. A layer
                // of the router still runs after routing, so it sees the matched route's
                // template.
                .layer(metrics::TrackLayer::new(&tracked.metrics))
                // So that even a timeout's answer carries them: nothing this server says may
                // be cached, since every answer concerns a credential or a private page, and
                // no answer may be read as anything but its declared type.
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(timeout::RequestTimeoutLayer::new(timeout))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
}

/// `GET /healthz` answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(examples(json!({"status": "ok", "backend": "sqlite"})))]
struct Health {
    /// `ok`, or `unavailable` when the database or the notification channel is down.
    #[schema(pattern = "^(ok|unavailable)$")]
    status: &'static str,
    /// `sqlite` or `postgres`.
    backend: &'static str,
}

/// Readiness, answered from memory: a background task checks the database every second, so
/// load on this endpoint never reaches the database. The public learns only whether this node
/// is ready and what it runs on; the details are on the operators' listener (`/status`).
#[utoipa::path(
    get, path = "/healthz", tag = "health", security(()),
    responses(
        (status = 200, description = "This node is ready.", body = Health),
        (status = 503, description = "The database or the notification channel is down.",
         body = Health, example = json!({"status": "unavailable", "backend": "postgres"})),
    ),
)]
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let ready = state.ready();
    let body = Health {
        status: if ready { "ok" } else { "unavailable" },
        backend: state.sessions.storage().health().backend,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// The operators' view of this node: readiness (503 when not ready, as `/healthz`), its
/// parts, its cache and its id.
async fn status(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let health = state.sessions.storage().health();
    let database = state.database_ok.load(Ordering::Relaxed);
    let mut body = serde_json::json!({
        "status": if state.ready() { "ok" } else { "unavailable" },
        "backend": health.backend,
        "database": if database { "up" } else { "down" },
        "notifications": if health.notifications_up { "up" } else { "down" },
        "cache": "off",
        "password_hashes": state.sessions.hasher().stats().admitted,
    });
    if let Some(node) = health.node_id {
        body["node_id"] = node.into();
    }
    if let Some((status, hits, misses)) = health.cache {
        body["cache"] = match status {
            CacheStatus::Serving => "serving",
            CacheStatus::Resyncing => "resyncing",
        }
        .into();
        body["cache_hits"] = hits.into();
        body["cache_misses"] = misses.into();
    }
    let code = if state.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// The operators' listener: `/status`, `/metrics` and the admin API, never on the public
/// address.
pub fn admin_app(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let body_limit = state.config.body_limit;
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics::scrape))
        .merge(admin::router())
        .merge(openapi::admin_router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // One `layer` call, as in `app`.
        .layer(
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(timeout::RequestTimeoutLayer::new(timeout))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
}

impl AppState {
    /// Whether the database and the notification channel are both up.
    fn ready(&self) -> bool {
        self.database_ok.load(Ordering::Relaxed)
            && self.sessions.storage().health().notifications_up
    }
}

/// Keeps the readiness flag of `/healthz` current.
async fn health_loop(state: AppState) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let ping = tokio::time::timeout(
            Duration::from_secs(2),
            state.sessions.storage().store().ping(),
        )
        .await;
        let ok = matches!(ping, Ok(Ok(())));
        if state.database_ok.swap(ok, Ordering::Relaxed) != ok {
            if ok {
                tracing::info!("database reachable again");
            } else {
                tracing::warn!("database unreachable");
            }
        }
    }
}

async fn not_found() -> Error {
    Error::NotFound
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Storage could not be opened or migrated.
    #[error("could not open the database")]
    Store(#[from] adieu_store::StoreError),
    /// The password hasher could not be built.
    #[error("could not set up password hashing")]
    Hasher(#[from] adieu_core::HashError),
    /// The address could not be bound.
    #[error("could not listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A bound, ready server.
pub struct Server {
    listener: TcpListener,
    admin: Option<TcpListener>,
    state: AppState,
}

impl Server {
    /// Opens storage, prepares hashing and binds the listener.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        config.policy.validate().map_err(StartError::Config)?;
        if config.connection_idle_timeout <= config.request_timeout {
            // The socket's idle timer cannot tell a slow answer from an idle client.
            return Err(StartError::Config(
                "the connection idle timeout must be longer than the request timeout".into(),
            ));
        }
        let service = config.service();
        // The service's metrics also time how long revocations wait for the other nodes.
        let store_options = adieu_store::StoreOptions {
            observer: Some(service.metrics.clone()),
            ..config.store.clone()
        };
        let storage = adieu_store::connect(&config.database_url, &store_options).await?;
        let hasher =
            PasswordHasher::new(config.argon2, config.hash_concurrency, config.hash_queue)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let admin = match config.admin_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?,
            ),
            None => None,
        };
        // The address actually bound (port 0 picks one): the issuer of the OAuth metadata
        // when no public URL is configured.
        let mut config = config;
        if let Ok(bound) = listener.local_addr() {
            config.listen = bound;
        }
        let sessions = Arc::new(Sessions::new(storage, hasher, service));
        let metrics = Arc::new(metrics::Metrics::new(&sessions));
        Ok(Self {
            listener,
            admin,
            state: AppState(Arc::new(Shared {
                sessions,
                issuer: oauth::issuer(&config),
                config: Arc::new(config),
                database_ok: AtomicBool::new(true),
                metrics,
            })),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// The address of the operators' listener, if there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The shared state, for tests that inspect storage directly.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state;
        let cleanup = tokio::spawn(cleanup_loop(state.clone()));
        let health = tokio::spawn(health_loop(state.clone()));
        let active = tokio::spawn(active_sessions_loop(state.clone()));
        let limits = connections::Limits {
            header_timeout: state.config.header_timeout,
            idle_timeout: state.config.connection_idle_timeout,
            max_connections: state.config.max_connections,
        };
        let (stop, stopped) = tokio::sync::watch::channel(());
        let admin = self.admin.map(|listener| {
            let mut stopped = stopped.clone();
            let app = admin_app(state.clone());
            tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.changed().await;
                };
                connections::serve(listener, app, limits, shutdown).await
            })
        });
        let served = connections::serve(self.listener, app(state.clone()), limits, async move {
            shutdown.await;
            drop(stop);
        })
        .await;
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        cleanup.abort();
        health.abort();
        active.abort();
        state.sessions.storage().store().close().await;
        served
    }
}

/// Keeps the `adieu_active_sessions` gauge current with one count query per interval, so
/// that scrapes never reach the database.
async fn active_sessions_loop(state: AppState) {
    let mut every = tokio::time::interval(state.config.active_sessions_interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = state.sessions.count_active_sessions().await {
            tracing::warn!(error = %e, "could not count the active sessions");
        }
    }
}

/// Deletes ended sessions and audit events past their retention now and then, in batches,
/// so the tables stay small.
async fn cleanup_loop(state: AppState) {
    let mut every = tokio::time::interval(state.config.cleanup_interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match state.sessions.delete_ended(1000).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "deleted ended sessions"),
            Err(e) => tracing::warn!(error = %e, "could not delete ended sessions"),
        }
        match state.sessions.delete_old_audit(1000).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "deleted audit events past their retention"),
            Err(e) => tracing::warn!(error = %e, "could not delete old audit events"),
        }
    }
}
