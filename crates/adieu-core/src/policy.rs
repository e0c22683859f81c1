//! Session policy: lifetimes and timeouts, and what a valid username and password look like.

use std::time::Duration;

use crate::UnixMillis;

/// Lifetimes that decide when tokens and sessions end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long an access token works after it is issued (default 15 minutes).
    pub access_token_ttl: Duration,
    /// A session unused for this long ends (default 14 days).
    pub idle_timeout: Duration,
    /// A session ends this long after login, however active (default 90 days).
    pub absolute_timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(15 * 60),
            idle_timeout: Duration::from_secs(14 * 86_400),
            absolute_timeout: Duration::from_secs(90 * 86_400),
        }
    }
}

/// Converts a duration into the millisecond unit of [`UnixMillis`].
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// When the two tokens of an API pair stop working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairExpiry {
    /// The access token: its lifetime, capped by the session's absolute end.
    pub access: UnixMillis,
    /// The refresh token: the session's absolute end.
    pub refresh: UnixMillis,
}

impl Policy {
    /// How stale `last_active_at` may get before a request records activity again: one
    /// minute, or a tenth of the idle timeout when that is shorter.
    ///
    /// Because the recorded time lags the real last use by less than this, a session can end
    /// up to one granularity *before* its exact idle timeout, and never after it.
    pub fn activity_granularity(&self) -> Duration {
        Duration::from_secs(60).min(self.idle_timeout / 10)
    }

    /// When an access token issued now stops working: its lifetime, capped by the session's
    /// absolute end.
    pub fn access_expiry(&self, now: UnixMillis, session_created_at: UnixMillis) -> UnixMillis {
        now.saturating_add(millis(self.access_token_ttl))
            .min(self.absolute_expiry(session_created_at))
    }

    /// When an access and a refresh token issued now for a session created at
    /// `session_created_at` stop working: the one rule for a login and a refresh alike.
    pub fn token_pair(&self, now: UnixMillis, session_created_at: UnixMillis) -> PairExpiry {
        PairExpiry {
            access: self.access_expiry(now, session_created_at),
            refresh: self.absolute_expiry(session_created_at),
        }
    }

    /// The absolute end of a session created at `created_at`.
    pub fn absolute_expiry(&self, created_at: UnixMillis) -> UnixMillis {
        created_at.saturating_add(millis(self.absolute_timeout))
    }

    /// Checks that the three durations make sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.access_token_ttl.is_zero() || self.idle_timeout.is_zero() {
            return Err("lifetimes must be greater than zero".into());
        }
        if self.idle_timeout > self.absolute_timeout {
            return Err("the idle timeout cannot be longer than the absolute timeout".into());
        }
        Ok(())
    }
}

/// Why a username or password was refused at registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The username is empty, too long or has characters outside `[A-Za-z0-9._-]`.
    #[error("username must be 1 to 64 characters of letters, digits, '.', '_' or '-'")]
    Username,
    /// The password is shorter than 8 or longer than 1024 characters.
    #[error("password must be 8 to 1024 characters long")]
    Password,
}

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in characters (argon2 cost is bounded anyway, but a limit keeps
/// request handling predictable).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks a username: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
pub fn validate_username(name: &str) -> Result<(), ValidationError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::Username)
    }
}

/// Checks a password's length in characters.
pub fn validate_password(password: &str) -> Result<(), ValidationError> {
    let chars = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        Ok(())
    } else {
        Err(ValidationError::Password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_defaults_are_pinned() {
        let p = Policy::default();
        assert_eq!(p.access_token_ttl, Duration::from_secs(900));
        assert_eq!(p.idle_timeout, Duration::from_secs(14 * 24 * 3600));
        assert_eq!(p.absolute_timeout, Duration::from_secs(90 * 24 * 3600));
        assert_eq!(p.activity_granularity(), Duration::from_secs(60));
        p.validate().unwrap();
    }

    #[test]
    fn activity_granularity_shrinks_with_short_idle_timeouts() {
        let p = Policy {
            idle_timeout: Duration::from_secs(100),
            ..Policy::default()
        };
        assert_eq!(p.activity_granularity(), Duration::from_secs(10));
    }

    #[test]
    fn access_tokens_never_outlive_the_absolute_lifetime() {
        let p = Policy {
            access_token_ttl: Duration::from_secs(900),
            idle_timeout: Duration::from_secs(60),
            absolute_timeout: Duration::from_secs(600),
        };
        assert_eq!(p.access_expiry(0, 0), 600_000);
        assert_eq!(p.access_expiry(0, 10_000_000), 900_000);
    }

    #[test]
    fn a_token_pair_ends_with_the_session_at_the_latest() {
        let p = Policy {
            access_token_ttl: Duration::from_secs(900),
            idle_timeout: Duration::from_secs(60),
            absolute_timeout: Duration::from_secs(600),
        };
        assert_eq!(
            p.token_pair(0, 0),
            PairExpiry {
                access: 600_000,
                refresh: 600_000
            }
        );
        assert_eq!(
            p.token_pair(10_000, 5_000),
            PairExpiry {
                access: 605_000,
                refresh: 605_000
            }
        );
        let long = Policy::default();
        assert_eq!(
            long.token_pair(1_000, 0),
            PairExpiry {
                access: 901_000,
                refresh: 90 * 86_400_000
            }
        );
    }

    #[test]
    fn usernames_and_passwords_are_validated() {
        assert!(validate_username("alice.b-c_1").is_ok());
        for bad in ["", "a b", "ünï", &"x".repeat(65), "a/b"] {
            assert_eq!(
                validate_username(bad),
                Err(ValidationError::Username),
                "{bad}"
            );
        }
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"ü".repeat(1024)).is_ok());
        assert!(validate_password("1234567").is_err());
        assert!(validate_password(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn an_idle_timeout_longer_than_the_absolute_one_is_refused() {
        let p = Policy {
            idle_timeout: Duration::from_secs(100),
            absolute_timeout: Duration::from_secs(10),
            ..Policy::default()
        };
        assert!(p.validate().is_err());
    }
}
