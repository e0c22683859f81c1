//! The one error type across the boundary.

use std::time::Duration;

use adieu_types::ErrorCode;

/// Everything a call can fail with, in Kotlin `AdieuException`, in Swift and Python
/// `AdieuError`. Texts never contain a token, a password or a full URL.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum AdieuError {
    /// The server could not be reached, did not answer in time, or its answer could not be
    /// read. Worth retrying later.
    #[error("network: {detail}")]
    Network {
        /// What went wrong, for people.
        detail: String,
    },
    /// No valid credential: not logged in, or the server refused the username and password
    /// (HTTP 401).
    #[error("unauthorized: {detail}")]
    Unauthorized {
        /// What went wrong, for people.
        detail: String,
    },
    /// The server ended this device's session (logout elsewhere, expiry, reuse detection); the
    /// credentials are gone from the store. Show the login screen.
    #[error("the session has ended on the server; log in again")]
    SessionRevoked,
    /// Too many attempts (HTTP 429).
    #[error("rate limited")]
    RateLimited {
        /// How long the server asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// Any other answer of the server: an HTTP error with its status, its stable error code
    /// when the server sent one (`not_found`, `account_disabled`, …) and its text.
    #[error("server answered HTTP {status}: {detail}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's stable error code, if it sent one.
        code: Option<String>,
        /// The server's text, meant for people.
        detail: String,
    },
    /// The host's `SecureStore` failed (or threw), or held a document that is not the SDK's.
    #[error("secure store: {detail}")]
    Store {
        /// What went wrong, for people; the host's own message when it threw.
        detail: String,
    },
    /// An argument cannot be used: a server URL that is not `https://` (or `http://` to the
    /// loopback), a malformed session id, a user agent with control characters.
    #[error("invalid argument: {detail}")]
    InvalidArgument {
        /// What is wrong with it.
        detail: String,
    },
}

impl From<adieu_client::Error> for AdieuError {
    fn from(e: adieu_client::Error) -> Self {
        use adieu_client::Error as E;
        let detail = e.to_string();
        if e.is_network() {
            return Self::Network { detail };
        }
        match e {
            E::NotLoggedIn => Self::Unauthorized { detail },
            E::SessionEnded => Self::SessionRevoked,
            E::Api {
                status: 429,
                retry_after,
                ..
            } => Self::RateLimited { retry_after },
            E::Api { status: 401, .. } => Self::Unauthorized { detail },
            E::Api {
                status,
                code,
                message,
                ..
            } => Self::Server {
                status,
                code: code_name(code),
                detail: message,
            },
            E::UnexpectedStatus { status } => Self::Server {
                status,
                code: None,
                detail,
            },
            // A body that did not decode was garbled on the way or came from something in front
            // of the server: like a network failure, worth a later retry.
            E::Decode(_) => Self::Network { detail },
            E::InvalidUrl(_) | E::InvalidArgument(_) => Self::InvalidArgument { detail },
            E::Store { what, .. } => Self::Store { detail: what },
            // The SDK's error is non-exhaustive; anything new is reported as it reads.
            _ => Self::Server {
                status: 0,
                code: None,
                detail,
            },
        }
    }
}

/// An exception thrown by the host's `SecureStore` or `SessionObserver` that is not an
/// `AdieuError` arrives here, with its message.
impl From<uniffi::UnexpectedUniFFICallbackError> for AdieuError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Store { detail: e.reason }
    }
}

/// The wire name of a code (`"account_disabled"`).
fn code_name(code: ErrorCode) -> Option<String> {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_errors_map_to_the_kinds_the_apps_handle() {
        let refused = adieu_client::Error::Api {
            status: 401,
            code: ErrorCode::InvalidCredentials,
            message: "wrong username or password".into(),
            retry_after: None,
        };
        assert!(matches!(
            AdieuError::from(refused),
            AdieuError::Unauthorized { .. }
        ));
        let limited = adieu_client::Error::Api {
            status: 429,
            code: ErrorCode::RateLimited,
            message: "too many attempts".into(),
            retry_after: Some(Duration::from_secs(6)),
        };
        assert!(matches!(
            AdieuError::from(limited),
            AdieuError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(6)
        ));
        let disabled = adieu_client::Error::Api {
            status: 403,
            code: ErrorCode::AccountDisabled,
            message: "disabled".into(),
            retry_after: None,
        };
        assert!(matches!(
            AdieuError::from(disabled),
            AdieuError::Server { status: 403, code: Some(c), .. } if c == "account_disabled"
        ));
        assert!(matches!(
            AdieuError::from(adieu_client::Error::SessionEnded),
            AdieuError::SessionRevoked
        ));
        assert!(matches!(
            AdieuError::from(adieu_client::Error::store("disk full", None)),
            AdieuError::Store { detail } if detail == "disk full"
        ));
    }
}
