//! Adieu's session service: every rule about users, sessions and tokens, shared by the JSON
//! API and the web pages. It speaks the domain's language (no HTTP): the server translates
//! requests into these calls and [`Error`] into answers.

mod admin;
mod client;
mod config;
mod error;
mod login;
mod metrics;
mod oauth;
mod sessions;

use std::sync::Arc;
use std::time::Duration;

use adieu_core::ratelimit::RateLimiter;
use adieu_core::token::IssuedToken;
use adieu_core::{Clock, PasswordHasher, Policy, Session};
use adieu_store::Storage;

pub use admin::{Admin, MAX_PAGE, UserDetail};
pub use client::ClientInfo;
pub use config::{Limits, ServiceConfig};
pub use error::{Error, Result};
pub use metrics::{LoginResult, Metrics};
pub use oauth::{MAX_CLIENT_NAME, NewClient};
pub use sessions::LiveSession;

/// What a login or refresh hands to an API client.
#[derive(Debug)]
pub struct ApiTokens {
    /// The session.
    pub session: Session,
    /// New access token.
    pub access: IssuedToken,
    /// New refresh token.
    pub refresh: IssuedToken,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

/// What a browser login hands out.
#[derive(Debug)]
pub struct WebLogin {
    /// The session.
    pub session: Session,
    /// The cookie value.
    pub cookie: IssuedToken,
}

/// The session service.
pub struct Sessions {
    storage: Storage,
    hasher: PasswordHasher,
    policy: Policy,
    clock: Arc<dyn Clock>,
    /// Login attempts per username from one IP: the tight limit.
    per_user_ip: RateLimiter,
    /// Login attempts per username from everywhere: the ceiling against distributed guessing.
    per_user: RateLimiter,
    /// Login attempts per IP, whatever the name.
    per_ip: RateLimiter,
    /// Registrations per IP.
    registrations: RateLimiter,
    /// Failed admin-key checks per IP.
    admin_failures: RateLimiter,
    /// Failed OAuth client authentications per IP.
    client_failures: RateLimiter,
    max_sessions_per_user: u32,
    audit_retention: Duration,
    refresh_delay: Duration,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("backend", &self.storage.health().backend)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Builds the service over storage.
    pub fn new(storage: Storage, hasher: PasswordHasher, config: ServiceConfig) -> Self {
        let per_minute =
            |limit| RateLimiter::new(limit, Duration::from_secs(60), config.clock.clone());
        let limits = config.limits;
        Self {
            storage,
            hasher,
            policy: config.policy,
            per_user_ip: per_minute(limits.login_attempts_per_user),
            per_user: per_minute(limits.login_attempts_per_user_total),
            per_ip: per_minute(limits.login_attempts_per_ip),
            registrations: per_minute(limits.registrations_per_ip),
            admin_failures: per_minute(limits.admin_failures_per_ip),
            client_failures: per_minute(limits.client_failures_per_ip),
            clock: config.clock,
            max_sessions_per_user: config.max_sessions_per_user,
            audit_retention: config.audit_retention,
            refresh_delay: config.refresh_delay,
            metrics: config.metrics,
        }
    }

    /// The storage underneath.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The password hasher, for its counters.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// What the service has counted.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Now, by the configured clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
