//! What a logout did, told truthfully.

use std::fmt;

/// What [`crate::Client::logout`] achieved. In every case the device holds no usable
/// credential afterwards; the variants say what happened on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum LogoutOutcome {
    /// The server confirmed that the session is over: its access and refresh tokens no longer
    /// work anywhere. (The server answers the same way whether this call ended the session or
    /// it had already ended, so as not to reveal a token's state; either way it is over.)
    Revoked,
    /// The session had already ended: the server refused its token, or refused it earlier when
    /// this client tried to refresh. Still a successful logout.
    AlreadyEnded,
    /// The device is logged out, but the server could not be told: **the session may still be
    /// active on the server.** The revocation is pending and is retried by
    /// [`crate::Client::retry_pending_revocations`] and at the next client start.
    LocalOnly {
        /// Why the server call did not get through.
        reason: LocalOnlyReason,
        /// Whether the revocation was recorded in the store for a later retry (false only if
        /// the store itself failed).
        retry_pending: bool,
    },
    /// There were no credentials on this device; nothing was sent.
    NotLoggedIn,
}

impl LogoutOutcome {
    /// Whether the server is known to have no live session left for this device.
    pub fn is_confirmed(&self) -> bool {
        matches!(self, Self::Revoked | Self::AlreadyEnded | Self::NotLoggedIn)
    }
}

/// What [`crate::Client::logout_all`] achieved. As with [`LogoutOutcome`], the device holds no
/// usable credential afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum LogoutAllOutcome {
    /// The server ended every session of the user, this one included.
    Revoked {
        /// How many sessions ended.
        sessions: u64,
    },
    /// This device's session had already ended, so the server could not be asked to end the
    /// others: log in again and repeat to end them.
    AlreadyEnded,
    /// The device is logged out, but the server could not be told. **No session was ended**;
    /// the revocation of this device's session is pending as for [`LogoutOutcome::LocalOnly`].
    /// The user's other sessions stay active until the user logs in again and repeats.
    LocalOnly {
        /// Why the server call did not get through.
        reason: LocalOnlyReason,
        /// Whether this session's revocation was recorded for a later retry.
        retry_pending: bool,
    },
    /// There were no credentials on this device; nothing was sent.
    NotLoggedIn,
}

/// Why a revocation did not reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalOnlyReason {
    /// The connection failed (refused, reset, DNS, TLS).
    Network,
    /// The server did not answer in time.
    Timeout,
    /// The server answered with this 5xx status.
    ServerError(u16),
    /// The answer was not the server's confirmation: a status that a logout never gets (e.g.
    /// 429 or 400), or a 200 or 401 whose body is not the server's (a proxy, a gateway or a
    /// fallback page answering in its place).
    UnexpectedStatus(u16),
    /// The stored server URL could not be parsed.
    InvalidServerUrl,
}

impl fmt::Display for LocalOnlyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network => f.write_str("the server could not be reached"),
            Self::Timeout => f.write_str("the server did not answer in time"),
            Self::ServerError(status) => write!(f, "the server failed (HTTP {status})"),
            Self::UnexpectedStatus(status) => {
                write!(f, "the server gave an unexpected answer (HTTP {status})")
            }
            Self::InvalidServerUrl => f.write_str("the stored server URL is invalid"),
        }
    }
}

/// What [`crate::Client::retry_pending_revocations`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryReport {
    /// Sessions whose revocation the server has now confirmed.
    pub revoked: Vec<String>,
    /// Sessions still pending, with the reason of this attempt's failure.
    pub still_pending: Vec<(String, LocalOnlyReason)>,
}

impl RetryReport {
    /// Whether nothing is pending any more.
    pub fn is_complete(&self) -> bool {
        self.still_pending.is_empty()
    }
}
