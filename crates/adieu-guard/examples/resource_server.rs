//! A resource server whose `GET /hello` only Adieu's users reach: `hello, <username>`.
//!
//! ```sh
//! ADIEU_INTROSPECTION_URL=http://127.0.0.1:8080/oauth2/introspect \
//! ADIEU_CLIENT_ID=… ADIEU_CLIENT_SECRET=… LISTEN=127.0.0.1:3000 \
//!     cargo run -p adieu-guard --example resource_server
//! ```

use adieu_guard::{AdieuGuard, AdieuUser};
use anyhow::Context;
use axum::Router;
use axum::routing::get;
use tracing_subscriber::EnvFilter;

async fn hello(user: AdieuUser) -> String {
    format!("hello, {}", user.username)
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("set {name}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    let guard = AdieuGuard::builder(env("ADIEU_INTROSPECTION_URL")?)
        .client_credentials(env("ADIEU_CLIENT_ID")?, env("ADIEU_CLIENT_SECRET")?)
        .build()
        .context("configuring the guard")?;
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());

    let app = Router::new()
        .route("/hello", get(hello))
        .layer(guard.layer());

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving GET /hello");
    axum::serve(listener, app).await.context("serving")?;
    Ok(())
}
