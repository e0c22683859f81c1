//! The server's error type and its HTTP form: `{"error": code, "message": text}`.

use adieu_types::{ErrorBody, ErrorCode};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; the text says what was wrong with it.
    #[error("{message}")]
    InvalidRequest {
        /// HTTP status (400, 413 or 415).
        status: StatusCode,
        /// What was wrong.
        message: String,
    },
    /// Wrong username or password (identical for both).
    #[error("wrong username or password")]
    InvalidCredentials,
    /// No usable token: missing, malformed, unknown, expired or revoked.
    #[error("the access token is missing, invalid, expired or revoked")]
    InvalidToken {
        /// Whether a credential was presented at all (RFC 6750 omits the error code if not).
        presented: bool,
    },
    /// Registration with a name in use.
    #[error("that username is taken")]
    UsernameTaken,
    /// The right password, but an administrator has disabled the account.
    #[error("this account is disabled")]
    AccountDisabled,
    /// OAuth client credentials that are missing, unknown or wrong.
    #[error("client authentication failed")]
    InvalidClient,
    /// Nothing of that id belongs to the caller.
    #[error("not found")]
    NotFound,
    /// The path exists, but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Too many attempts, or hashing is saturated.
    #[error("too many requests; retry later")]
    RateLimited {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// A failure of ours; the cause goes to the log only.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Shorthand for server results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest { .. } => ErrorCode::InvalidRequest,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::InvalidToken { .. } => ErrorCode::InvalidToken,
            Self::UsernameTaken => ErrorCode::UsernameTaken,
            Self::AccountDisabled => ErrorCode::AccountDisabled,
            Self::InvalidClient => ErrorCode::InvalidClient,
            Self::NotFound => ErrorCode::NotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { status, .. } => *status,
            Self::InvalidCredentials | Self::InvalidToken { .. } | Self::InvalidClient => {
                StatusCode::UNAUTHORIZED
            }
            Self::UsernameTaken => StatusCode::CONFLICT,
            Self::AccountDisabled => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The one place where the session service's refusals become HTTP answers.
impl From<adieu_service::Error> for Error {
    fn from(err: adieu_service::Error) -> Self {
        use adieu_service::Error as Service;
        match err {
            Service::InvalidCredentials => Self::InvalidCredentials,
            Service::InvalidToken => Self::InvalidToken { presented: true },
            Service::UsernameTaken => Self::UsernameTaken,
            Service::AccountDisabled => Self::AccountDisabled,
            Service::InvalidClient => Self::InvalidClient,
            Service::InvalidInput(message) => Self::bad_request(message),
            Service::RateLimited { retry_after } => Self::RateLimited { retry_after },
            Service::Invalid(reason) => Self::bad_request(reason.to_string()),
            Service::NotFound => Self::NotFound,
            Service::Storage(cause) => Self::Internal(Box::new(cause)),
            Service::Hashing(cause) => Self::Internal(Box::new(cause)),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %ErrorChain(cause.as_ref()), "request failed");
        }
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
        };
        let mut response = (self.status_code(), Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Self::InvalidToken { presented } => {
                let value = if presented {
                    r#"Bearer error="invalid_token""#
                } else {
                    "Bearer"
                };
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
            }
            Self::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            Self::InvalidClient => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="adieu""#),
                );
            }
            _ => {}
        }
        response
    }
}

/// Formats an error with its whole `source()` chain, for the log.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
