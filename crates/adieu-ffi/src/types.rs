//! The records and outcomes that cross the boundary.

use std::time::{Duration, SystemTime};

/// How to reach the server, and how to name the app to it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct AdieuConfig {
    /// The server's base URL: `https://…`, or `http://` to the loopback only (unless
    /// `allow_plain_http`).
    pub server_url: String,
    /// The longest a whole request may take; a logout that times out is `LocalOnly`.
    #[uniffi(default = 30000)]
    pub request_timeout_ms: u64,
    /// The longest opening a connection may take (never more than the request timeout).
    #[uniffi(default = 10000)]
    pub connect_timeout_ms: u64,
    /// The `User-Agent` of every request, shown in the user's session list (default
    /// `adieu-client/VERSION`).
    #[uniffi(default = None)]
    pub user_agent: Option<String>,
    /// Allows `http://` to hosts other than the loopback, such as the Android emulator's
    /// `10.0.2.2` in development. Never in a release: every token would cross the network in
    /// clear.
    #[uniffi(default = false)]
    pub allow_plain_http: bool,
    /// The key under which the credentials document is kept in the `SecureStore`.
    #[uniffi(default = "adieu.credentials")]
    pub store_key: String,
}

impl AdieuConfig {
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

/// Who this device is logged in as; nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionSummary {
    /// The account name.
    pub username: String,
    /// The session id, as listed by `sessions()`.
    pub session_id: String,
}

impl From<adieu_client::SessionSummary> for SessionSummary {
    fn from(s: adieu_client::SessionSummary) -> Self {
        Self {
            username: s.username,
            session_id: s.session_id,
        }
    }
}

/// A new account.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Registered {
    /// The account's id.
    pub user_id: String,
    /// The account name.
    pub username: String,
}

/// Who the server says this device is.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Me {
    /// The account's id.
    pub user_id: String,
    /// The account name.
    pub username: String,
    /// This device's session.
    pub session_id: String,
}

/// One of the user's active sessions.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SessionInfo {
    /// The session id, for `revoke_session`.
    pub id: String,
    /// When it was created (the login).
    pub created_at: SystemTime,
    /// When it was last used (recorded at most once a minute).
    pub last_active_at: SystemTime,
    /// When it ends unless used again (or at its absolute end).
    pub expires_at: SystemTime,
    /// The user agent of its login.
    pub user_agent: Option<String>,
    /// The address of its login.
    pub ip: Option<String>,
    /// Whether it is this device's session.
    pub current: bool,
}

impl From<adieu_types::SessionInfo> for SessionInfo {
    fn from(s: adieu_types::SessionInfo) -> Self {
        Self {
            id: s.id,
            created_at: s.created_at.into(),
            last_active_at: s.last_active_at.into(),
            expires_at: s.expires_at.into(),
            user_agent: s.user_agent,
            ip: s.ip,
            current: s.current,
        }
    }
}

/// What `logout()` achieved. In every case the device holds no usable credential afterwards;
/// the variants say what happened on the server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum LogoutOutcome {
    /// The server confirmed that the session is over.
    Revoked,
    /// The session had already ended (the server refused its token): still a logout.
    AlreadyEnded,
    /// Logged out on this device, but the server could not be told: **the session may still be
    /// active on the server.** Its revocation is queued in the `SecureStore` for
    /// `retry_pending()`.
    LocalOnly {
        /// Why the server call did not get through.
        reason: LocalOnlyReason,
        /// Whether the revocation was queued (false only if the store failed).
        retry_pending: bool,
    },
    /// There were no credentials on this device; nothing was sent.
    NotLoggedIn,
}

impl From<adieu_client::LogoutOutcome> for LogoutOutcome {
    fn from(o: adieu_client::LogoutOutcome) -> Self {
        use adieu_client::LogoutOutcome as O;
        match o {
            O::Revoked => Self::Revoked,
            O::AlreadyEnded => Self::AlreadyEnded,
            O::LocalOnly {
                reason,
                retry_pending,
            } => Self::LocalOnly {
                reason: reason.into(),
                retry_pending,
            },
            O::NotLoggedIn => Self::NotLoggedIn,
        }
    }
}

/// What `logout_all()` achieved; as with `LogoutOutcome`, the device is logged out in every
/// case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum LogoutAllOutcome {
    /// The server ended every session of the user, this one included.
    Revoked {
        /// How many sessions ended.
        sessions: u64,
    },
    /// This device's session had already ended, so the others could not be ended from here.
    AlreadyEnded,
    /// Logged out on this device, but **no session was ended on the server**; this device's
    /// revocation is queued as for `LogoutOutcome.LocalOnly`, the others stay active.
    LocalOnly {
        /// Why the server call did not get through.
        reason: LocalOnlyReason,
        /// Whether this session's revocation was queued.
        retry_pending: bool,
    },
    /// There were no credentials on this device; nothing was sent.
    NotLoggedIn,
}

impl From<adieu_client::LogoutAllOutcome> for LogoutAllOutcome {
    fn from(o: adieu_client::LogoutAllOutcome) -> Self {
        use adieu_client::LogoutAllOutcome as O;
        match o {
            O::Revoked { sessions } => Self::Revoked { sessions },
            O::AlreadyEnded => Self::AlreadyEnded,
            O::LocalOnly {
                reason,
                retry_pending,
            } => Self::LocalOnly {
                reason: reason.into(),
                retry_pending,
            },
            O::NotLoggedIn => Self::NotLoggedIn,
        }
    }
}

/// Why a revocation did not reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LocalOnlyReason {
    /// The connection failed (refused, reset, DNS, TLS).
    Network,
    /// The server did not answer in time.
    Timeout,
    /// The server answered with a 5xx.
    ServerError {
        /// HTTP status.
        status: u16,
    },
    /// An answer that is not the server's confirmation (a proxy's page, a 429, …).
    UnexpectedStatus {
        /// HTTP status.
        status: u16,
    },
    /// The stored server URL could not be parsed.
    InvalidServerUrl,
}

impl From<adieu_client::LocalOnlyReason> for LocalOnlyReason {
    fn from(r: adieu_client::LocalOnlyReason) -> Self {
        use adieu_client::LocalOnlyReason as R;
        match r {
            R::Network => Self::Network,
            R::Timeout => Self::Timeout,
            R::ServerError(status) => Self::ServerError { status },
            R::UnexpectedStatus(status) => Self::UnexpectedStatus { status },
            R::InvalidServerUrl => Self::InvalidServerUrl,
        }
    }
}
