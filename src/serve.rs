//! `adieu serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use adieu_core::duration;
use adieu_server::{Config, Server};
use anyhow::Context;
use clap::Args;
use tracing_subscriber::EnvFilter;

/// Flags of `adieu serve`; each has an `ADIEU_*` environment fallback.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "ADIEU_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Database: sqlite://FILE (created on first start) or postgres://…
    #[arg(
        long,
        env = "ADIEU_DATABASE_URL",
        default_value = "sqlite://adieu.db",
        hide_env_values = true
    )]
    database_url: String,
    /// Cache token checks in memory: `on` or `off` (every check reads the database).
    #[arg(long, env = "ADIEU_CACHE", default_value = "on", value_parser = ["on", "off"])]
    cache: String,
    /// PostgreSQL: a node's cache lease; bounds how long a logout waits for a dead node.
    #[arg(long, env = "ADIEU_LEASE", default_value = "2s", value_parser = duration::parse)]
    lease: Duration,
    /// Lifetime of an access token.
    #[arg(long, env = "ADIEU_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = duration::parse)]
    access_token_ttl: Duration,
    /// A session unused this long ends.
    #[arg(long, env = "ADIEU_IDLE_TIMEOUT", default_value = "14d", value_parser = duration::parse)]
    idle_timeout: Duration,
    /// A session ends this long after login, however active.
    #[arg(long, env = "ADIEU_ABSOLUTE_TIMEOUT", default_value = "90d", value_parser = duration::parse)]
    absolute_timeout: Duration,
    /// argon2id memory cost in KiB (OWASP: 19456).
    #[arg(long, env = "ADIEU_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    argon2_memory_kib: u32,
    /// argon2id passes (OWASP: 2).
    #[arg(long, env = "ADIEU_ARGON2_ITERATIONS", default_value_t = 2)]
    argon2_iterations: u32,
    /// Password hashes running at once [default: number of cores].
    #[arg(long, env = "ADIEU_HASH_CONCURRENCY")]
    hash_concurrency: Option<usize>,
    /// Password hashes allowed to wait; beyond that logins get 429 [default: 32 per core].
    #[arg(long, env = "ADIEU_HASH_QUEUE")]
    hash_queue: Option<usize>,
    /// Login attempts per username from one client IP per minute (0 disables the limit).
    #[arg(long, env = "ADIEU_LOGIN_ATTEMPTS_PER_USER", default_value_t = 10)]
    login_attempts_per_user: u32,
    /// Login attempts per username from all IPs together per minute (0 disables the limit).
    #[arg(
        long,
        env = "ADIEU_LOGIN_ATTEMPTS_PER_USER_TOTAL",
        default_value_t = 100
    )]
    login_attempts_per_user_total: u32,
    /// Login attempts per client IP per minute (0 disables the limit).
    #[arg(long, env = "ADIEU_LOGIN_ATTEMPTS_PER_IP", default_value_t = 60)]
    login_attempts_per_ip: u32,
    /// Registrations per client IP per minute (0 disables the limit).
    #[arg(long, env = "ADIEU_REGISTRATIONS_PER_IP", default_value_t = 10)]
    registrations_per_ip: u32,
    /// Failed admin-key checks per client IP per minute (0 disables the limit).
    #[arg(long, env = "ADIEU_ADMIN_FAILURES_PER_IP", default_value_t = 10)]
    admin_failures_per_ip: u32,
    /// Failed OAuth client authentications per client IP per minute (0 disables the limit).
    #[arg(long, env = "ADIEU_CLIENT_FAILURES_PER_IP", default_value_t = 10)]
    client_failures_per_ip: u32,
    /// Live sessions per user; a login beyond it ends the user's oldest session.
    #[arg(long, env = "ADIEU_MAX_SESSIONS_PER_USER", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_sessions_per_user: u32,
    /// How long audit events are kept.
    #[arg(long, env = "ADIEU_AUDIT_RETENTION", default_value = "90d", value_parser = duration::parse)]
    audit_retention: Duration,
    /// The longest wait for a complete request head (on a new or a kept-alive connection).
    #[arg(long, env = "ADIEU_HEADER_TIMEOUT", default_value = "30s", value_parser = duration::parse)]
    header_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed.
    #[arg(long, env = "ADIEU_CONNECTION_IDLE_TIMEOUT", default_value = "75s", value_parser = duration::parse)]
    connection_idle_timeout: Duration,
    /// Connections open at once; beyond, new ones are closed at once [default: half the
    /// descriptor limit, at most 10000].
    #[arg(long, env = "ADIEU_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Where browsers reach the pages, when that is not this server's own plain-HTTP address
    /// (behind a TLS proxy: https://auth.example.com). Form posts must come from it.
    #[arg(long, env = "ADIEU_PUBLIC_URL", value_parser = adieu_server::config::origin_of)]
    public_url: Option<String>,
    /// Address of the operators' listener (GET /status); off by default.
    #[arg(long, env = "ADIEU_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// Share the session cookie with this domain's subdomains (`example.com`), for forward
    /// auth in front of apps on them; the cookie is then `__Secure-adieu_session`.
    #[arg(long, env = "ADIEU_COOKIE_DOMAIN", value_parser = adieu_server::config::parse_cookie_domain)]
    cookie_domain: Option<String>,
    /// Hosts, besides the cookie domain and its subdomains, that login and logout may send a
    /// browser back to (comma-separated).
    #[arg(long, env = "ADIEU_REDIRECT_HOSTS", value_delimiter = ',',
          value_parser = adieu_server::config::parse_host)]
    redirect_hosts: Vec<String>,
    /// Proxies whose X-Forwarded-For names the client (comma-separated addresses or
    /// networks, e.g. 127.0.0.1,10.0.0.0/8); none by default, so the header is ignored.
    #[arg(long, env = "ADIEU_TRUSTED_PROXIES", default_value = "")]
    trusted_proxies: adieu_server::forwarded::TrustedProxies,
    /// Send the browser session cookie without `Secure` and without the `__Host-` prefix, so
    /// that browsers keep it over plain HTTP on a host other than localhost. The cookie then
    /// travels in clear: use this only on a trusted network.
    #[arg(
        long,
        env = "ADIEU_INSECURE_COOKIES",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    insecure_cookies: bool,
    /// `Clear-Site-Data` sent with every browser logout; empty sends none. `"cookies"` clears
    /// every cookie of the whole site, other apps on the same domain included.
    #[arg(
        long,
        env = "ADIEU_CLEAR_SITE_DATA",
        default_value = r#""cache", "cookies", "storage""#,
        value_parser = header_value
    )]
    clear_site_data: String,
}

impl ServeArgs {
    fn into_config(self) -> Config {
        let mut config = Config {
            listen: self.listen,
            database_url: self.database_url,
            login_attempts_per_user: self.login_attempts_per_user,
            login_attempts_per_user_total: self.login_attempts_per_user_total,
            login_attempts_per_ip: self.login_attempts_per_ip,
            registrations_per_ip: self.registrations_per_ip,
            admin_failures_per_ip: self.admin_failures_per_ip,
            client_failures_per_ip: self.client_failures_per_ip,
            max_sessions_per_user: self.max_sessions_per_user,
            audit_retention: self.audit_retention,
            header_timeout: self.header_timeout,
            connection_idle_timeout: self.connection_idle_timeout,
            public_origin: self.public_url,
            admin_listen: self.admin_listen,
            cookie_domain: self.cookie_domain,
            redirect_hosts: self.redirect_hosts,
            trusted_proxies: self.trusted_proxies,
            ..Config::default()
        };
        if let Some(n) = self.max_connections {
            config.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        config.store.cache = self.cache == "on";
        config.store.lease = self.lease;
        config.policy.access_token_ttl = self.access_token_ttl;
        config.policy.idle_timeout = self.idle_timeout;
        config.policy.absolute_timeout = self.absolute_timeout;
        config.argon2.memory_kib = self.argon2_memory_kib;
        config.argon2.iterations = self.argon2_iterations;
        config.secure_cookies = !self.insecure_cookies;
        config.clear_site_data = self.clear_site_data;
        if let Some(n) = self.hash_concurrency {
            config.hash_concurrency = n;
        }
        if let Some(n) = self.hash_queue {
            config.hash_queue = n;
        }
        config
    }
}

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = args.into_config();
    if !config.secure_cookies {
        tracing::warn!(
            "--insecure-cookies: the session cookie is sent without Secure and without the \
             __Host- prefix, in clear over plain HTTP; use this only on a trusted network"
        );
    }
    if config.public_origin.is_none() {
        tracing::info!(
            "no --public-url: forward auth answers a signed-out browser with a plain 401, \
             without a redirect to the login page"
        );
    }
    let database = adieu_server::config::redact_url(&config.database_url);
    let server = Server::build(config)
        .await
        .with_context(|| format!("starting the server on {database}"))?;
    let addr = server.local_addr();
    let health = server.state().sessions.storage().health();
    let cache = if health.cache.is_some() { "on" } else { "off" };
    tracing::info!(backend = health.backend, cache, database = %database, "storage ready");
    println!("adieu listening on http://{addr}");
    if let Some(admin) = server.admin_addr() {
        println!("adieu admin listening on http://{admin}");
    }
    server
        .run(shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("shut down");
    Ok(ExitCode::SUCCESS)
}

/// Accepts text that can be sent as an HTTP header value.
fn header_value(value: &str) -> Result<String, String> {
    if value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        Ok(value.to_owned())
    } else {
        Err("must be printable ASCII, as an HTTP header value".to_owned())
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
