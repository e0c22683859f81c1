//! The guard's own answers: 401 for a token that is not a live access token, 503 when Adieu
//! cannot tell.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// Why a request is not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No credential was presented (RFC 6750 §3.1: no error code then).
    NoToken,
    /// A malformed header, or a token that is not a live access token.
    InvalidToken,
    /// Adieu could not be asked, or its answer could not be used: the token's state is
    /// unknown, which is never a pass, and not the client's fault either.
    Unavailable,
}

impl Refusal {
    pub(crate) fn into_response(self) -> Response {
        let (status, challenge, body) = match self {
            Self::NoToken => (
                StatusCode::UNAUTHORIZED,
                Some("Bearer"),
                r#"{"error":"invalid_token"}"#,
            ),
            Self::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                Some(r#"Bearer error="invalid_token""#),
                r#"{"error":"invalid_token"}"#,
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                r#"{"error":"temporarily_unavailable"}"#,
            ),
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
