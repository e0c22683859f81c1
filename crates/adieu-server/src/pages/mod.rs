//! Server-rendered web pages: sign in, see and end your sessions, change your password, and
//! log out so that nothing private survives in the browser.
//!
//! Every page is rendered here at compile-time-checked templates (maud), with the style
//! embedded; nothing is loaded from elsewhere. Every POST passes the [`csrf`] checks.

mod account;
mod activity;
pub(crate) mod cookie;
mod csrf;
mod error;
mod extract;
mod format;
mod home;
mod layout;
mod login;
mod logout;
pub(crate) mod redirect;
mod register;
mod sessions;

use adieu_core::TokenKind;
use adieu_service::{ClientInfo, Error};
use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

use self::error::PageError;
use crate::AppState;
use crate::config::Config;

/// Routes of the web pages.
pub(crate) fn router(config: &Config) -> Router<AppState> {
    Router::new()
        .merge(home::router())
        .merge(login::router())
        .merge(register::router())
        .merge(logout::router())
        .merge(sessions::router())
        .merge(account::router())
        .merge(activity::router())
        // One `layer` call: each call wraps every route in a boxed service of its own, which
        // a request then clones and polls.
        .layer(
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("same-origin"),
                ))
                // Nobody may frame the pages and trick a click on a logout or sign-out button.
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_FRAME_OPTIONS,
                    HeaderValue::from_static("DENY"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::CONTENT_SECURITY_POLICY,
                    layout::content_security_policy(config),
                )),
        )
}

/// `Clear-Site-Data`, which is not among the `http` crate's constants.
const CLEAR_SITE_DATA: HeaderName = HeaderName::from_static("clear-site-data");

/// Ends the session of the cookie this browser held until now, if any: a new sign-in
/// (login or registration) replaces it rather than leaving it running unseen.
async fn end_previous_session(
    state: &AppState,
    headers: &HeaderMap,
    client: &ClientInfo,
) -> Result<(), PageError> {
    if let Some(old) = cookie::read(&state.config, headers) {
        match state.sessions.logout(TokenKind::Cookie, &old, client).await {
            Ok(()) | Err(Error::InvalidToken) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(())
}

/// A 303 to `to` that hands the browser a new session cookie.
fn signed_in(config: &Config, cookie_value: &str, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie::issue(config, cookie_value));
    response
}

/// A 303 to `to` that deletes the session cookie and asks the browser to forget the site's
/// cache and storage. Only sent once the session has ended on the server.
fn logged_out(config: &Config, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookie::expire(config));
    if !config.clear_site_data.trim().is_empty() {
        match HeaderValue::from_str(&config.clear_site_data) {
            Ok(value) => {
                headers.insert(CLEAR_SITE_DATA, value);
            }
            Err(_) => tracing::warn!("clear_site_data is not a valid header value; not sent"),
        }
    }
    response
}
