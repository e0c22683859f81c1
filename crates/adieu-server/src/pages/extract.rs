//! Extractors of the pages: the signed-in session, and form bodies with HTML errors.

use adieu_core::TokenKind;
use adieu_service::{Error, LiveSession};
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::cookie;
use super::error::PageError;
use crate::AppState;

/// The live session behind the request's session cookie; without one, a redirect to sign in
/// that brings the user back to this page afterwards.
pub(crate) struct WebSession {
    /// The session, freshly read from storage.
    pub(crate) session: LiveSession,
    /// The cookie value, from which the synchronizer token is derived.
    pub(crate) cookie: String,
}

impl WebSession {
    /// The synchronizer token for this session's forms.
    pub(crate) fn csrf(&self) -> String {
        adieu_core::token::csrf_token(&self.cookie)
    }
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let next = || PageError::SignIn {
            next: parts.uri.path_and_query().map(|p| p.as_str().to_owned()),
        };
        let Some(cookie) = cookie::read(&state.config, &parts.headers) else {
            return Err(next());
        };
        match state
            .sessions
            .authenticate(TokenKind::Cookie, &cookie)
            .await
        {
            Ok(session) => Ok(Self { session, cookie }),
            Err(Error::InvalidToken) => Err(next()),
            Err(other) => Err(other.into()),
        }
    }
}

/// A URL-encoded form body whose rejections are answered as an HTML page.
pub(crate) struct PageForm<T>(pub(crate) T);

impl<T, S> FromRequest<S> for PageForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(PageError::BadRequest(format!(
                "The form could not be read: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// The session cookie of a signed-in form POST, once the form's synchronizer token matches it.
///
/// Without a cookie there is nothing to act on and the user is sent to sign in; a token that
/// does not match is refused (403) without touching anything.
pub(crate) fn posted_cookie(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<String, PageError> {
    let cookie = cookie::read(&state.config, headers).ok_or(PageError::SignIn { next: None })?;
    if !super::csrf::token_matches(&cookie, csrf) {
        tracing::warn!("form post with a wrong synchronizer token refused");
        return Err(PageError::Forbidden);
    }
    Ok(cookie)
}

/// The live session of a signed-in form POST (see [`posted_cookie`]).
pub(crate) async fn posted_session(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<WebSession, PageError> {
    let cookie = posted_cookie(state, headers, csrf)?;
    let session = state
        .sessions
        .authenticate(TokenKind::Cookie, &cookie)
        .await?;
    Ok(WebSession { session, cookie })
}

/// The synchronizer token every signed-in form carries.
#[derive(serde::Deserialize)]
pub(crate) struct CsrfForm {
    /// The token, as rendered into the form; missing counts as wrong (403).
    #[serde(default)]
    pub(crate) csrf: String,
}
