//! Entry points for the fuzz targets in `fuzz/`, which, as a crate of their own, can call
//! only public items.
//!
//! The parsers they exercise are `pub(crate)` items of private modules (`extract`, `authz`,
//! `oauth`, `pages`); making those modules public would publish the whole request-handling
//! surface, so these thin wrappers publish only what the targets call. Not an API: hidden
//! from the docs, free to change, and compiled with every build so that it cannot rot.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::Config;
use crate::authz::Proxy;
pub use crate::oauth::TokenForm;

/// The Bearer token of `Authorization`, as every API extractor reads it; a refusal is the
/// status it is answered with.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, StatusCode> {
    crate::extract::bearer_token(headers).map_err(|e| e.into_response().status())
}

/// The session cookie's value, as the pages and forward auth read it.
pub fn session_cookie(config: &Config, headers: &HeaderMap) -> Option<String> {
    crate::pages::cookie::read(config, headers)
}

/// Forward auth's answer to nginx's `auth_request` for a request without a valid credential.
pub fn nginx_refusal(config: &Config, headers: &HeaderMap) -> Response {
    crate::authz::refused(config, headers, Proxy::Nginx)
}

/// Forward auth's answer to Caddy and Traefik for a request without a valid credential.
pub fn forward_auth_refusal(config: &Config, headers: &HeaderMap) -> Response {
    crate::authz::refused(config, headers, Proxy::ForwardAuth)
}

/// Where login and logout send a browser for `rd=target`, if anywhere.
pub fn redirect_target(config: &Config, target: &str) -> Option<String> {
    crate::pages::redirect::allowed_target(config, target)
}

/// The OAuth endpoints' form; a refusal is the status it is answered with.
pub fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<TokenForm, StatusCode> {
    crate::oauth::parse_form(headers, body).map_err(|e| e.into_response().status())
}

/// The OAuth client's credentials of a request; a refusal is the status it is answered with.
pub fn credentials(
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Option<(String, String)>, StatusCode> {
    crate::oauth::credentials(headers, form).map_err(|e| e.into_response().status())
}

/// A JSON request body as the API reads it (`ApiJson` and the logout body): an object only.
pub fn read_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    crate::extract::read_body(body)
}
