//! [`AdieuUser`]: who the guard let in, and its axum extractor.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The user of a request that [`AdieuGuardLayer`](crate::AdieuGuardLayer) let through.
///
/// The layer puts it in the request's extensions; in an axum handler, take it as an
/// argument:
///
/// ```no_run
/// async fn hello(user: adieu_guard::AdieuUser) -> String {
///     format!("hello, {}", user.username)
/// }
/// ```
///
/// Extracting it on a route that the layer does not cover is a programming error, answered
/// 500 ([`MissingGuard`]) and logged, never a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdieuUser {
    /// Adieu's id of the user (`sub`): stable, unlike the name.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// The id of the session the token belongs to (`sid`); not a credential.
    pub session_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for AdieuUser {
    type Rejection = MissingGuard;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AdieuUser>()
            .cloned()
            .ok_or(MissingGuard)
    }
}

/// The rejection of [`AdieuUser`] on a route without the layer: 500 `internal_error`.
#[derive(Debug, Clone, Copy)]
pub struct MissingGuard;

impl IntoResponse for MissingGuard {
    fn into_response(self) -> Response {
        tracing::error!(
            "AdieuUser extracted on a route without AdieuGuardLayer; add the layer to the route"
        );
        let mut response = (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            r#"{"error":"internal_error"}"#,
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
