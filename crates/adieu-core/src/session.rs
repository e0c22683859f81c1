//! A session as the domain sees it, and the rule that says whether it is still alive.

use crate::UnixMillis;
use crate::policy::{Policy, millis};

/// Where a session was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// JSON API login: access and refresh tokens.
    Api,
    /// Browser login: a session cookie.
    Web,
}

impl SessionKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Web => "web",
        }
    }

    /// Reads a stored name back.
    pub fn from_db(name: &str) -> Option<Self> {
        match name {
            "api" => Some(Self::Api),
            "web" => Some(Self::Web),
            _ => None,
        }
    }
}

/// One login of one user on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Public id (not a credential).
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Owner's name.
    pub username: String,
    /// API or browser.
    pub kind: SessionKind,
    /// Login time.
    pub created_at: UnixMillis,
    /// Last recorded activity, coalesced (see [`Policy::activity_granularity`]).
    pub last_active_at: UnixMillis,
    /// Set once the session has been ended.
    pub revoked_at: Option<UnixMillis>,
    /// `User-Agent` at login.
    pub user_agent: Option<String>,
    /// Client IP at login.
    pub ip: Option<String>,
}

impl Session {
    /// When the session ends: the earlier of its idle and absolute deadlines.
    pub fn expires_at(&self, policy: &Policy) -> UnixMillis {
        let idle = self
            .last_active_at
            .saturating_add(millis(policy.idle_timeout));
        idle.min(policy.absolute_expiry(self.created_at))
    }

    /// Whether the session may be used at `now`.
    pub fn is_active(&self, policy: &Policy, now: UnixMillis) -> bool {
        self.revoked_at.is_none() && now < self.expires_at(policy)
    }

    /// Whether a use at `now` should be written back as activity.
    pub fn activity_due(&self, policy: &Policy, now: UnixMillis) -> bool {
        now - self.last_active_at >= millis(policy.activity_granularity())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn policy() -> Policy {
        Policy {
            access_token_ttl: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(100),
            absolute_timeout: Duration::from_secs(1000),
        }
    }

    fn session(created_at: UnixMillis, last_active_at: UnixMillis) -> Session {
        Session {
            id: "s".into(),
            user_id: "u".into(),
            username: "alice".into(),
            kind: SessionKind::Api,
            created_at,
            last_active_at,
            revoked_at: None,
            user_agent: None,
            ip: None,
        }
    }

    #[test]
    fn idle_and_absolute_deadlines_both_end_a_session() {
        let p = policy();
        let s = session(0, 0);
        assert!(s.is_active(&p, 99_999));
        assert!(!s.is_active(&p, 100_000));
        let busy = session(0, 950_000);
        assert!(busy.is_active(&p, 999_999));
        assert!(!busy.is_active(&p, 1_000_000));
    }

    #[test]
    fn a_revoked_session_is_never_active() {
        let mut s = session(0, 0);
        s.revoked_at = Some(1);
        assert!(!s.is_active(&policy(), 2));
    }

    #[test]
    fn activity_is_written_at_most_once_per_granularity() {
        let p = policy(); // granularity 10 s
        let s = session(0, 0);
        assert!(!s.activity_due(&p, 9_999));
        assert!(s.activity_due(&p, 10_000));
    }
}
