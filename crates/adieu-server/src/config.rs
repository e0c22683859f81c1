//! Server configuration. Every knob has a production default; tests lower the costly ones.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use adieu_core::{Argon2Params, Clock, Policy, SystemClock};
use adieu_service::{Limits, ServiceConfig};
use adieu_store::StoreOptions;

/// Everything `adieu serve` can be told.
#[derive(Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Token cache and, for PostgreSQL, the lease that keeps it coherent across nodes.
    pub store: StoreOptions,
    /// Token lifetimes and session timeouts.
    pub policy: Policy,
    /// argon2id cost.
    pub argon2: Argon2Params,
    /// Password hashes running at once (default: the number of cores).
    pub hash_concurrency: usize,
    /// Password hashes waiting beyond those; more are answered 429 at once.
    pub hash_queue: usize,
    /// Login attempts allowed per username from one client IP per minute (0 disables).
    pub login_attempts_per_user: u32,
    /// Login attempts allowed per username from all IPs together per minute, against
    /// distributed guessing (0 disables).
    pub login_attempts_per_user_total: u32,
    /// Login attempts allowed per client IP per minute (0 disables).
    pub login_attempts_per_ip: u32,
    /// Registrations allowed per client IP per minute (0 disables).
    pub registrations_per_ip: u32,
    /// Failed admin-key checks allowed per client IP per minute (0 disables).
    pub admin_failures_per_ip: u32,
    /// Failed OAuth client authentications allowed per client IP per minute (0 disables).
    pub client_failures_per_ip: u32,
    /// Live sessions a user may hold; a login beyond it ends the oldest.
    pub max_sessions_per_user: u32,
    /// How long audit events are kept.
    pub audit_retention: Duration,
    /// Largest request body accepted.
    pub body_limit: usize,
    /// A request taking longer than this is answered 408.
    pub request_timeout: Duration,
    /// The longest wait for a complete request head, on a new connection or a kept-alive
    /// one; then the connection is closed.
    pub header_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed.
    pub connection_idle_timeout: Duration,
    /// Connections open at once; beyond, new ones are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Where browsers reach the pages (`https://auth.example.com`), if not at this server's
    /// own plain-HTTP address: the origin a form post must come from.
    pub public_origin: Option<String>,
    /// Address of the operators' listener (`/status`); none by default.
    pub admin_listen: Option<SocketAddr>,
    /// The domain the session cookie is set for (`example.com`), so that the proxies of its
    /// subdomains see it; none keeps the host-only `__Host-` cookie.
    pub cookie_domain: Option<String>,
    /// Hosts, besides the cookie domain and its subdomains, that a login or logout may send
    /// the browser back to.
    pub redirect_hosts: Vec<String>,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::forwarded::TrustedProxies,
    /// How often ended sessions are deleted from the database.
    pub cleanup_interval: Duration,
    /// How often the live sessions are counted for `adieu_active_sessions`.
    pub active_sessions_interval: Duration,
    /// Mark the session cookie `Secure` and name it with the `__Host-` prefix.
    pub secure_cookies: bool,
    /// Value of `Clear-Site-Data` on browser logout; empty to send none.
    pub clear_site_data: String,
    /// Source of the current time (tests move a manual clock instead of sleeping).
    pub clock: Arc<dyn Clock>,
    /// Delay before a refresh is processed. Always zero in production; tests use it to hold a
    /// refresh in flight while they race a logout against it.
    pub refresh_delay: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("store", &self.store)
            .field("policy", &self.policy)
            .field("argon2", &self.argon2)
            .field("hash_concurrency", &self.hash_concurrency)
            .field("hash_queue", &self.hash_queue)
            .field("secure_cookies", &self.secure_cookies)
            .field("max_connections", &self.max_connections)
            .field("public_origin", &self.public_origin)
            .field("admin_listen", &self.admin_listen)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// What the session service is told, with metrics of its own: build it once per server.
    pub fn service(&self) -> ServiceConfig {
        ServiceConfig {
            policy: self.policy,
            clock: self.clock.clone(),
            limits: Limits {
                login_attempts_per_user: self.login_attempts_per_user,
                login_attempts_per_user_total: self.login_attempts_per_user_total,
                login_attempts_per_ip: self.login_attempts_per_ip,
                registrations_per_ip: self.registrations_per_ip,
                admin_failures_per_ip: self.admin_failures_per_ip,
                client_failures_per_ip: self.client_failures_per_ip,
            },
            max_sessions_per_user: self.max_sessions_per_user,
            audit_retention: self.audit_retention,
            refresh_delay: self.refresh_delay,
            metrics: Arc::default(),
        }
    }
}

/// A database URL with any password replaced, for logs: `user:secret@` and `password=`
/// query parameters alike.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &base[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:[redacted]{}",
                    &base[..scheme_end + 3],
                    &userinfo[..colon],
                    &base[at..]
                ),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                    format!("{key}=[redacted]")
                }
                _ => param.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://adieu.db".into(),
            store: StoreOptions::default(),
            policy: Policy::default(),
            argon2: Argon2Params::default(),
            hash_concurrency: cores,
            hash_queue: 32 * cores,
            login_attempts_per_user: 10,
            login_attempts_per_user_total: 100,
            login_attempts_per_ip: 60,
            registrations_per_ip: 10,
            admin_failures_per_ip: 10,
            client_failures_per_ip: 10,
            max_sessions_per_user: 100,
            audit_retention: Duration::from_secs(90 * 24 * 3600),
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(30),
            connection_idle_timeout: Duration::from_secs(75),
            max_connections: default_max_connections(),
            public_origin: None,
            admin_listen: None,
            cookie_domain: None,
            redirect_hosts: Vec::new(),
            trusted_proxies: crate::forwarded::TrustedProxies::default(),
            cleanup_interval: Duration::from_secs(600),
            active_sessions_interval: Duration::from_secs(15),
            secure_cookies: true,
            clear_site_data: r#""cache", "cookies", "storage""#.into(),
            clock: Arc::new(SystemClock),
            refresh_delay: Duration::ZERO,
        }
    }
}

/// The origin (`scheme://host[:port]`, lower case) of a public URL such as
/// `https://auth.example.com/`; refuses anything that is not a plain http(s) origin.
pub fn origin_of(url: &str) -> Result<String, String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") => s,
        _ => return Err("must start with https:// or http://".into()),
    };
    let authority = uri.authority().ok_or("must name a host")?.as_str();
    if authority.contains('@') {
        return Err("must not contain a user name or password".into());
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err("must be an origin only, with no path or query".into());
    }
    Ok(format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// A cookie domain as `--cookie-domain` takes it: a DNS name of at least two labels, in lower
/// case, without a leading dot.
pub fn parse_cookie_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim().trim_start_matches('.').to_ascii_lowercase();
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if domain.len() <= 253 && domain.contains('.') && labels_ok {
        Ok(domain)
    } else {
        Err("must be a domain name such as example.com".into())
    }
}

/// A host as `--redirect-hosts` takes it: a DNS name or an IP address, in lower case.
pub fn parse_host(host: &str) -> Result<String, String> {
    let host = host.trim().to_ascii_lowercase();
    let name_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if name_ok || host.parse::<std::net::IpAddr>().is_ok() {
        Ok(host)
    } else {
        Err(format!("{host:?} is not a host name or an IP address"))
    }
}

/// Half the process's descriptor limit, at most 10,000: the rest is left for the database,
/// the log and the listeners, so that the server never runs out while it is full.
fn default_max_connections() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    usize::try_from(soft / 2)
        .unwrap_or(usize::MAX)
        .clamp(16, 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/adieu"),
            "postgres://bob:[redacted]@db:5432/adieu"
        );
        assert_eq!(redact_url("sqlite://adieu.db"), "sqlite://adieu.db");
        assert_eq!(
            redact_url("postgres://db/adieu?user=bob&password=s3cret&sslmode=require"),
            "postgres://db/adieu?user=bob&password=[redacted]&sslmode=require"
        );
        assert_eq!(
            redact_url("sqlite://adieu.db?mode=rwc"),
            "sqlite://adieu.db?mode=rwc"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }

    #[test]
    fn public_urls_reduce_to_their_origin() {
        assert_eq!(
            origin_of("https://Auth.Example.com/").unwrap(),
            "https://auth.example.com"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "auth.example.com",
            "ftp://auth.example.com",
            "https://auth.example.com/login",
            "https://auth.example.com/?a=b",
            "https://user:pw@auth.example.com",
            "",
        ] {
            assert!(origin_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn production_defaults_are_pinned() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://adieu.db");
        assert_eq!(c.policy, Policy::default());
        assert_eq!(c.argon2, Argon2Params::default());
        assert!(c.secure_cookies);
        assert_eq!(c.refresh_delay, Duration::ZERO);
        assert_eq!(c.login_attempts_per_user, 10);
        assert_eq!(c.login_attempts_per_user_total, 100);
        assert_eq!(c.login_attempts_per_ip, 60);
        assert_eq!(c.registrations_per_ip, 10);
        assert_eq!(c.admin_failures_per_ip, 10);
        assert_eq!(c.client_failures_per_ip, 10);
        assert_eq!(c.max_sessions_per_user, 100);
        assert_eq!(c.audit_retention, Duration::from_secs(90 * 24 * 3600));
        assert_eq!(c.header_timeout, Duration::from_secs(30));
        assert_eq!(c.connection_idle_timeout, Duration::from_secs(75));
        assert!((16..=10_000).contains(&c.max_connections));
        assert_eq!(c.public_origin, None);
        assert_eq!(c.admin_listen, None);
        assert_eq!(c.cookie_domain, None);
        assert!(c.redirect_hosts.is_empty());
        assert!(c.trusted_proxies.is_empty());
        assert!(c.store.cache);
        assert_eq!(c.store.lease, Duration::from_secs(2));
    }
}
