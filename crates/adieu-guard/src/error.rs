//! The crate's one error type.

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a guard could not be built, or why a token could not be checked.
///
/// A check that fails with any of these lets nothing through: the layer answers 503. Messages
/// never contain a token, a client secret or a URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The introspection URL cannot be used.
    #[error("invalid introspection URL: {0}")]
    InvalidUrl(&'static str),
    /// The builder was not given the guard's client credentials.
    #[error("the guard needs client credentials (client_credentials(id, secret))")]
    MissingCredentials,
    /// The HTTP client could not be built (no TLS backend, say).
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// Adieu could not be reached, or the connection broke.
    #[error("could not reach Adieu's introspection endpoint")]
    Unreachable(#[source] reqwest::Error),
    /// Adieu did not answer within the guard's timeout.
    #[error("Adieu's introspection endpoint did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// Adieu refused the guard's client credentials: the guard is misconfigured.
    #[error("Adieu refused the guard's client credentials (invalid_client)")]
    ClientRefused,
    /// Adieu answered with a status other than 200 (and 401 `invalid_client`).
    #[error("unexpected answer from Adieu's introspection endpoint (HTTP {status})")]
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
    },
    /// Adieu's answer was not the introspection JSON expected (or far too large).
    #[error("could not read Adieu's introspection answer")]
    Decode,
}

impl Error {
    /// Whether Adieu itself could not be asked or did not answer in time: worth retrying.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_) | Self::Timeout(_) | Self::UnexpectedStatus { status: 500.. }
        )
    }

    /// Whether this is a mistake of the guard's configuration rather than of Adieu.
    pub fn is_misconfigured(&self) -> bool {
        matches!(
            self,
            Self::InvalidUrl(_)
                | Self::MissingCredentials
                | Self::HttpClient(_)
                | Self::ClientRefused
        )
    }
}
