//! Why a call of the session service failed, in the domain's words.

use adieu_core::{HashError, ValidationError};
use adieu_store::StoreError;

/// Everything a call of the session service can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Wrong username or password (identical for both).
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The right password, but an administrator has disabled the account.
    #[error("the account is disabled")]
    AccountDisabled,
    /// OAuth client credentials that are missing, unknown or wrong.
    #[error("client authentication failed")]
    InvalidClient,
    /// Input that the rules refuse; the text says why.
    #[error("{0}")]
    InvalidInput(String),
    /// The token is malformed, unknown, expired, spent or of an ended session.
    #[error("the token is invalid, expired or revoked")]
    InvalidToken,
    /// Registration with a name in use.
    #[error("that username is taken")]
    UsernameTaken,
    /// Too many attempts, or password hashing is saturated.
    #[error("too many attempts; retry in {retry_after} s")]
    RateLimited {
        /// Seconds to wait before trying again.
        retry_after: u64,
    },
    /// A username or password that the policy refuses; the text says why.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Nothing of that id belongs to the caller.
    #[error("not found")]
    NotFound,
    /// Storage failed.
    #[error("storage failed")]
    Storage(#[source] StoreError),
    /// Password hashing failed (not a busy hasher: that is `RateLimited`).
    #[error("password hashing failed")]
    Hashing(#[source] HashError),
}

/// Shorthand for service results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            // The unique index decided a race between two registrations of one name.
            StoreError::UsernameTaken => Self::UsernameTaken,
            other => Self::Storage(other),
        }
    }
}

impl From<HashError> for Error {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy => Self::RateLimited { retry_after: 1 },
            other => Self::Hashing(other),
        }
    }
}
