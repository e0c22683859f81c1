//! What the service counts: logins, ended sessions, token checks, refresh-token reuse, how
//! long revocations wait for the other nodes, and the live sessions. The server registers
//! these with its other metrics and serves them on the operators' listener.
//!
//! Recording is an atomic add on a counter whose labels are small enums or `&'static str`,
//! never a string built per call; the counters of the check path are looked up once, at
//! construction.

use std::fmt::Write;
use std::time::Duration;

use adieu_store::{AuditKind, StoreObserver};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::Error;

/// How a login attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginResult {
    /// A session was created.
    Success,
    /// Unknown name, wrong password, or a password changed meanwhile.
    InvalidCredentials,
    /// Refused by a rate limit or a busy hasher.
    RateLimited,
    /// The account exists but may not sign in.
    AccountDisabled,
}

impl LoginResult {
    /// Every result, so that each series exists from the start.
    pub const ALL: [Self; 4] = [
        Self::Success,
        Self::InvalidCredentials,
        Self::RateLimited,
        Self::AccountDisabled,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidCredentials => "invalid_credentials",
            Self::RateLimited => "rate_limited",
            Self::AccountDisabled => "account_disabled",
        }
    }

    /// The result a failed login counts as; `None` for failures that say nothing about the
    /// attempt (a storage error, say).
    pub fn of_error(error: &Error) -> Option<Self> {
        match error {
            Error::InvalidCredentials => Some(Self::InvalidCredentials),
            Error::RateLimited { .. } => Some(Self::RateLimited),
            Error::AccountDisabled => Some(Self::AccountDisabled),
            _ => None,
        }
    }
}

impl EncodeLabelValue for LoginResult {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LoginLabels {
    result: LoginResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EndedLabels {
    /// `AuditKind::as_str` of the revocation: every kind, present and future, has its series.
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CheckLabels {
    result: &'static str,
}

/// The service's counters, gauges and histograms.
#[derive(Debug)]
pub struct Metrics {
    logins: Family<LoginLabels, Counter>,
    sessions_ended: Family<EndedLabels, Counter>,
    token_checks: Family<CheckLabels, Counter>,
    valid_tokens: Counter,
    invalid_tokens: Counter,
    refresh_reuse: Counter,
    revocation_wait: Histogram,
    active_sessions: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let logins = Family::<LoginLabels, Counter>::default();
        for result in LoginResult::ALL {
            let _ = logins.get_or_create(&LoginLabels { result });
        }
        let token_checks = Family::<CheckLabels, Counter>::default();
        let valid_tokens = token_checks
            .get_or_create(&CheckLabels { result: "valid" })
            .clone();
        let invalid_tokens = token_checks
            .get_or_create(&CheckLabels { result: "invalid" })
            .clone();
        Self {
            logins,
            sessions_ended: Family::default(),
            token_checks,
            valid_tokens,
            invalid_tokens,
            refresh_reuse: Counter::default(),
            // 100 µs to about 6.5 s: SQLite's near-zero, a healthy cluster's milliseconds,
            // and a node whose lease (2 s by default) had to run out.
            revocation_wait: Histogram::new(exponential_buckets(0.000_1, 2.0, 17)),
            active_sessions: Gauge::default(),
        }
    }
}

impl Metrics {
    /// Adds these metrics to `registry`, whose prefix (`adieu`) they take.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "logins",
            "Login attempts, by how they ended",
            self.logins.clone(),
        );
        registry.register(
            "sessions_ended",
            "Sessions ended, by the reason recorded in the audit log",
            self.sessions_ended.clone(),
        );
        registry.register(
            "token_checks",
            "Tokens checked, by whether they were valid",
            self.token_checks.clone(),
        );
        registry.register(
            "refresh_reuse_detected",
            "Spent refresh tokens presented again (their sessions were ended)",
            self.refresh_reuse.clone(),
        );
        registry.register_with_unit(
            "revocation_wait",
            "Time from a revocation's commit until every node had heard it",
            Unit::Seconds,
            self.revocation_wait.clone(),
        );
        registry.register(
            "active_sessions",
            "Live sessions of all users, counted periodically",
            self.active_sessions.clone(),
        );
    }

    /// Counts a login attempt.
    pub fn login(&self, result: LoginResult) {
        self.logins.get_or_create(&LoginLabels { result }).inc();
    }

    /// Counts `count` sessions ended for the reason `kind`.
    pub fn sessions_ended(&self, kind: AuditKind, count: usize) {
        if count > 0 {
            self.sessions_ended
                .get_or_create(&EndedLabels {
                    reason: kind.as_str(),
                })
                .inc_by(count as u64);
        }
    }

    /// Counts one token check.
    pub fn token_check(&self, valid: bool) {
        if valid {
            self.valid_tokens.inc();
        } else {
            self.invalid_tokens.inc();
        }
    }

    /// Counts a spent refresh token presented again.
    pub fn refresh_reuse(&self) {
        self.refresh_reuse.inc();
    }

    /// Sets the count of live sessions.
    pub fn set_active_sessions(&self, count: u64) {
        self.active_sessions
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
}

impl StoreObserver for Metrics {
    fn revocation_confirmed(&self, waited: Duration) {
        self.revocation_wait.observe(waited.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    fn scrape(metrics: &Metrics) -> String {
        let mut registry = Registry::with_prefix("adieu");
        metrics.register(&mut registry);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn every_login_result_and_token_check_result_has_a_series_from_the_start() {
        let text = scrape(&Metrics::default());
        for result in LoginResult::ALL {
            let line = format!("adieu_logins_total{{result=\"{}\"}} 0", result.as_str());
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        assert!(text.contains("adieu_token_checks_total{result=\"valid\"} 0"));
        assert!(text.contains("adieu_token_checks_total{result=\"invalid\"} 0"));
    }

    #[test]
    fn ended_sessions_are_counted_under_their_audit_kind_by_number() {
        let metrics = Metrics::default();
        metrics.sessions_ended(AuditKind::LogoutAll, 3);
        metrics.sessions_ended(AuditKind::Logout, 1);
        metrics.sessions_ended(AuditKind::PasswordChanged, 0);
        let text = scrape(&metrics);
        assert!(text.contains("adieu_sessions_ended_total{reason=\"logout_all\"} 3"));
        assert!(text.contains("adieu_sessions_ended_total{reason=\"logout\"} 1"));
        assert!(
            !text.contains("password_changed"),
            "nothing ended, no series"
        );
    }

    #[test]
    fn a_confirmed_revocation_is_one_observation_in_seconds() {
        let metrics = Metrics::default();
        metrics.revocation_confirmed(Duration::from_millis(3));
        let text = scrape(&metrics);
        assert!(
            text.contains("adieu_revocation_wait_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("adieu_revocation_wait_seconds_sum 0.003"),
            "{text}"
        );
    }
}
