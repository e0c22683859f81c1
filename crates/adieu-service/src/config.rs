//! What the session service is told: policy, clock and limits.

use std::sync::Arc;
use std::time::Duration;

use adieu_core::{Clock, Policy};

use crate::Metrics;

/// The session service's configuration; the server builds it from its own.
#[derive(Clone)]
pub struct ServiceConfig {
    /// Token lifetimes and session timeouts.
    pub policy: Policy,
    /// Source of the current time.
    pub clock: Arc<dyn Clock>,
    /// Rate limits of logins and registrations.
    pub limits: Limits,
    /// Live sessions a user may hold; a login beyond it ends the oldest.
    pub max_sessions_per_user: u32,
    /// How long audit events are kept.
    pub audit_retention: Duration,
    /// Delay before a refresh is processed. Always zero in production; tests use it to hold a
    /// refresh in flight while they race a logout against it.
    pub refresh_delay: Duration,
    /// Where the service counts what it does; the server registers it, and gives it to
    /// storage as the observer of revocations.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("policy", &self.policy)
            .field("limits", &self.limits)
            .field("max_sessions_per_user", &self.max_sessions_per_user)
            .field("audit_retention", &self.audit_retention)
            .field("refresh_delay", &self.refresh_delay)
            .finish_non_exhaustive()
    }
}

/// Attempts allowed per minute; 0 disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Login attempts per username from one client IP.
    pub login_attempts_per_user: u32,
    /// Login attempts per username from all IPs together, against distributed guessing.
    pub login_attempts_per_user_total: u32,
    /// Login attempts per client IP, whatever the name.
    pub login_attempts_per_ip: u32,
    /// Registrations per client IP.
    pub registrations_per_ip: u32,
    /// Failed admin-key checks per client IP.
    pub admin_failures_per_ip: u32,
    /// Failed OAuth client authentications per client IP.
    pub client_failures_per_ip: u32,
}
