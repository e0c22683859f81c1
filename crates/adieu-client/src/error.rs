//! The SDK's one error type.

use std::time::Duration;

use adieu_types::ErrorCode;

/// Shorthand for SDK results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an SDK call can fail with.
///
/// Messages never contain a token, a password or a full URL; match on the predicates
/// ([`Error::is_unauthorized`], [`Error::is_network`], …) rather than on the variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No credentials on this device: log in first.
    #[error("not logged in")]
    NotLoggedIn,
    /// The server refused the refresh token: the session was ended (logout elsewhere, expiry,
    /// or reuse detection). The local credentials have been removed.
    #[error("the session has ended on the server; log in again")]
    SessionEnded,
    /// The server answered with an error body.
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code.
        code: ErrorCode,
        /// The server's text, meant for people (the server keeps internals out of it).
        message: String,
        /// How long the server asked us to wait before trying again (`Retry-After` in
        /// seconds), sent with a 429.
        retry_after: Option<Duration>,
    },
    /// The server answered with a status and body this SDK does not understand.
    #[error("unexpected answer from the server (HTTP {status})")]
    UnexpectedStatus {
        /// HTTP status.
        status: u16,
    },
    /// The server could not be reached, or the connection broke.
    #[error("could not reach the server")]
    Network(#[source] reqwest::Error),
    /// The server did not answer in time.
    #[error("the server did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// The server's answer was not the JSON this SDK expects.
    #[error("could not read the server's answer")]
    Decode(#[source] reqwest::Error),
    /// The server URL cannot be used.
    #[error("invalid server URL: {0}")]
    InvalidUrl(String),
    /// An argument cannot be used (a malformed session id, a streamed body).
    #[error("{0}")]
    InvalidArgument(String),
    /// The credential store failed.
    #[error("credential store: {what}")]
    Store {
        /// What went wrong, for people; may name a file, never a secret.
        what: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// A credential-store error, for implementors of [`crate::CredentialStore`].
    pub fn store(
        what: impl Into<String>,
        source: impl Into<Option<Box<dyn std::error::Error + Send + Sync>>>,
    ) -> Self {
        Self::Store {
            what: what.into(),
            source: source.into(),
        }
    }

    /// Whether the call failed for want of a valid credential: not logged in, session ended,
    /// or an HTTP 401.
    pub fn is_unauthorized(&self) -> bool {
        match self {
            Self::NotLoggedIn | Self::SessionEnded => true,
            Self::Api { status, .. } => *status == 401,
            _ => false,
        }
    }

    /// Whether the server could not be reached or did not answer in time.
    pub fn is_network(&self) -> bool {
        matches!(self, Self::Network(_) | Self::Timeout(_))
    }

    /// Whether the server did not answer in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Whether the credential store failed.
    pub fn is_store(&self) -> bool {
        matches!(self, Self::Store { .. })
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::UnexpectedStatus { status } => Some(*status),
            _ => None,
        }
    }

    /// The server's error code, if it sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again, if it said (a 429's
    /// `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Maps a transport error, dropping the URL from it.
    pub(crate) fn transport(e: reqwest::Error) -> Self {
        let e = e.without_url();
        if e.is_timeout() {
            Self::Timeout(e)
        } else if e.is_decode() {
            Self::Decode(e)
        } else {
            Self::Network(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_classify_the_failures() {
        assert!(Error::NotLoggedIn.is_unauthorized());
        assert!(Error::SessionEnded.is_unauthorized());
        let refused = Error::Api {
            status: 401,
            code: ErrorCode::InvalidCredentials,
            message: "wrong username or password".into(),
            retry_after: None,
        };
        assert!(refused.is_unauthorized());
        assert!(!refused.is_network());
        assert_eq!(refused.status(), Some(401));
        assert_eq!(refused.to_string(), "wrong username or password");
        let missing = Error::Api {
            status: 404,
            code: ErrorCode::NotFound,
            message: "not found".into(),
            retry_after: None,
        };
        assert!(!missing.is_unauthorized());
        assert!(Error::store("disk full", None).is_store());
    }
}
