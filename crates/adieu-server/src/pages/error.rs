//! Why a page request failed, answered as an HTML page (or a redirect to sign in).

use adieu_service::Error;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::page;
use super::redirect::login_url;
use crate::error::ErrorChain;

/// Everything a page handler can fail with.
#[derive(Debug)]
pub(crate) enum PageError {
    /// No live session: go and sign in, then come back to `next`.
    SignIn {
        /// The page that was asked for.
        next: Option<String>,
    },
    /// A form from another site, or without a valid synchronizer token.
    Forbidden,
    /// Nothing of that id belongs to the user.
    NotFound,
    /// Malformed form data.
    BadRequest(String),
    /// The account is disabled.
    Disabled,
    /// Too many attempts.
    RateLimited {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// A failure of ours; the cause goes to the log only.
    Internal(Error),
}

/// The one place where the session service's refusals become pages; a handler that answers
/// one of them in its own form (the login form's notice, say) matches it before this.
impl From<Error> for PageError {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidToken => Self::SignIn { next: None },
            Error::NotFound => Self::NotFound,
            Error::RateLimited { retry_after } => Self::RateLimited { retry_after },
            Error::Invalid(reason) => Self::BadRequest(reason.to_string()),
            Error::InvalidCredentials => Self::BadRequest("wrong username or password".into()),
            Error::UsernameTaken => Self::BadRequest("that username is taken".into()),
            Error::AccountDisabled => Self::Disabled,
            Error::InvalidClient => Self::BadRequest("client authentication failed".into()),
            Error::InvalidInput(message) => Self::BadRequest(message),
            internal @ (Error::Storage(_) | Error::Hashing(_)) => Self::Internal(internal),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // None of these responses sets or deletes a cookie: a refused request must not touch
        // the browser's session, since a forged one would otherwise log the user out.
        let (status, title, text) = match self {
            Self::SignIn { next } => {
                return Redirect::to(&login_url(next.as_deref(), None)).into_response();
            }
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "Request refused",
                "This form was sent from another site, or it has expired. Nothing was changed. \
                 Go back to Adieu, reload the page and try again."
                    .to_owned(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it is not yours.".to_owned(),
            ),
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, "Bad request", message),
            Self::Disabled => (
                StatusCode::FORBIDDEN,
                "Account disabled",
                "An administrator has disabled this account. Ask them to enable it again."
                    .to_owned(),
            ),
            Self::RateLimited { retry_after } => {
                let response = render(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    &rate_limited_text(retry_after),
                );
                return with_retry_after(response, retry_after);
            }
            Self::Internal(err) => {
                tracing::error!(error = %ErrorChain(&err), "page request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side. Please try again in a moment.".to_owned(),
                )
            }
        };
        render(status, title, &text)
    }
}

fn render(status: StatusCode, title: &str, text: &str) -> Response {
    let body = page(
        title,
        None,
        html! {
            div.auth {
                div.card {
                    h1 { (title) }
                    p { (text) }
                    p { a.button href="/" { "Back to Adieu" } }
                }
            }
        },
    );
    (status, body).into_response()
}

/// What a person is told when they must wait.
pub(super) fn rate_limited_text(retry_after: u64) -> String {
    format!("Too many attempts. Try again in {retry_after} seconds.")
}

/// Adds `Retry-After` to a 429 page.
pub(super) fn with_retry_after(mut response: Response, retry_after: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}
