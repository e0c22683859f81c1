//! Protect your own axum or tower API with Adieu access tokens.
//!
//! [`AdieuGuardLayer`] asks Adieu's introspection endpoint (RFC 7662,
//! `POST /oauth2/introspect`) about the Bearer token of **every** request, and lets the
//! request through only if Adieu says it is a live access token. The handler then finds the
//! [`AdieuUser`] in the request: as an axum extractor, or in the extensions.
//!
//! ```no_run
//! use adieu_guard::{AdieuGuard, AdieuUser};
//! use axum::{Router, routing::get};
//!
//! async fn hello(user: AdieuUser) -> String {
//!     format!("hello, {}", user.username)
//! }
//!
//! # async fn run() -> anyhow::Result<()> {
//! // The guard's client, created on Adieu's admin API (`POST /admin/clients`).
//! let guard = AdieuGuard::builder("https://auth.example.com/oauth2/introspect")
//!     .client_credentials("my-api", std::env::var("ADIEU_CLIENT_SECRET")?)
//!     .timeout(std::time::Duration::from_secs(2))
//!     .build()?;
//!
//! let app = Router::new()
//!     .route("/hello", get(hello))
//!     .layer(guard.layer());
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What is answered
//!
//! | request | answer |
//! |---|---|
//! | live access token | the inner service, with [`AdieuUser`] in the extensions |
//! | no `Authorization` header | 401, `WWW-Authenticate: Bearer`, `{"error":"invalid_token"}` |
//! | not `Bearer <token>`; a token that is unknown, expired, revoked, or not an access token (a refresh token, say) | 401, `WWW-Authenticate: Bearer error="invalid_token"`, `{"error":"invalid_token"}` |
//! | Adieu unreachable, not answering within the timeout, answering 5xx, refusing the guard's own credentials (401 `invalid_client`: a misconfigured guard), or answering what is not introspection JSON | 503, `{"error":"temporarily_unavailable"}` |
//!
//! The guard fails closed: when Adieu cannot say that a token is live, the request never
//! reaches the inner service. The cause of a 503 goes to the log (`tracing`), at `error` for
//! refused client credentials and `warn` otherwise; tokens are never logged, and the
//! guard's `Debug` shows the client secret as `[redacted]`.
//!
//! # Placing the layer
//!
//! `Router::layer` guards the routes added before it and the fallback, so an unknown path
//! is a 401 too and tells nothing about which paths exist; `Router::route_layer` guards only
//! the routes, and unknown paths stay 404. Routes added after the layer are open: take
//! [`AdieuUser`] only in handlers behind it. A CORS layer belongs *outside* the guard (added
//! after it), since browsers send preflight requests without credentials.
//!
//! # No cache, on purpose
//!
//! Adieu's promise is that a logout ends a session at once. A guard that remembered "this
//! token was live" for even a few seconds would let a logged-out token through for that long,
//! so this crate offers **no cache**: every request costs one introspection, over one pooled
//! `reqwest` client (keep-alive connections, so usually no new TCP or TLS handshake). If that
//! is too much for your traffic, run Adieu closer to the API, not a cache in the guard.
//!
//! # Configuration
//!
//! - [`AdieuGuardBuilder::client_credentials`]: the `client_id` and `client_secret` that
//!   Adieu's admin API gave for this API. They are sent with HTTP Basic, each part
//!   form-urlencoded first (RFC 6749 §2.3.1).
//! - [`AdieuGuardBuilder::timeout`]: how long an introspection may take, connecting included
//!   ([`DEFAULT_TIMEOUT`], 5 s).
//! - The URL must be `https://`, or `http://` to the loopback;
//!   [`AdieuGuardBuilder::allow_plain_http`] lifts that for a network you trust entirely.
//!   Redirects are not followed.
//!
//! Outside a tower stack, [`AdieuGuard::introspect`] does the same check for one token.
//!
//! # The example resource server
//!
//! `examples/resource_server.rs` serves `GET /hello` behind the layer, answering
//! `hello, <username>`. With an Adieu running on `127.0.0.1:8080` and its operators'
//! listener on `127.0.0.1:9090`:
//!
//! ```sh
//! # A client for the API, with an admin key (`adieu admin keys create`).
//! curl -s -X POST 127.0.0.1:9090/admin/clients -H "authorization: Bearer $ADMIN_KEY" \
//!      -H 'content-type: application/json' -d '{"name":"hello-api"}'
//! # {"client_id":"…","client_secret":"…","name":"hello-api","created_at":"…"}
//!
//! ADIEU_INTROSPECTION_URL=http://127.0.0.1:8080/oauth2/introspect \
//! ADIEU_CLIENT_ID=… ADIEU_CLIENT_SECRET=… LISTEN=127.0.0.1:3000 \
//!     cargo run -p adieu-guard --example resource_server
//!
//! curl -s 127.0.0.1:3000/hello -H "authorization: Bearer $ACCESS"
//! # hello, alice
//! ```

mod bearer;
mod error;
mod guard;
mod layer;
mod refusal;
mod user;

pub use error::{Error, Result};
pub use guard::{AdieuGuard, AdieuGuardBuilder, DEFAULT_TIMEOUT};
pub use layer::{AdieuGuardLayer, AdieuGuardService};
pub use user::{AdieuUser, MissingGuard};
