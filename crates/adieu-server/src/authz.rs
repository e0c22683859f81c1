//! Forward auth: reverse proxies ask here, before every request to an app they protect,
//! whether its sender is signed in.
//!
//! - `/authz/auth-request` speaks nginx's `auth_request`: 200 allows, 401 refuses, and a
//!   refused browser navigation carries `Location` for the proxy's `error_page 401`.
//! - `/authz/forward-auth` speaks Caddy's `forward_auth` and Traefik's ForwardAuth, which pass
//!   any answer but a 2xx back to the client as it is: a refused navigation is a redirect.
//!
//! Both answer any method, never read a body, and check the credential (a Bearer access token,
//! or the pages' session cookie) through the same coherent path as `/api/me`, so once a
//! logout has answered, the very next proxied request is refused on every node. Nothing here
//! may be cached: the global layer sends `Cache-Control: no-store`.

use adieu_core::{Session, TokenKind};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::error::Error;
use crate::extract::Bearer;
use crate::pages::{cookie, redirect};
use crate::{AppState, Config};

/// Routes of forward auth.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/authz/auth-request", any(auth_request))
        .route("/authz/forward-auth", any(forward_auth))
}

/// Which proxy asks, and so how the original request is described and a refusal answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proxy {
    /// nginx `auth_request`: the original request in `X-Original-*`.
    Nginx,
    /// Caddy `forward_auth`, Traefik ForwardAuth: the original request in `X-Forwarded-*`.
    ForwardAuth,
}

// The request is taken whole (its body is never read) rather than as a `HeaderMap`, which
// axum would clone for every check.
/// nginx `auth_request`.
#[utoipa::path(
    get, path = "/authz/auth-request", tag = "forward auth",
    description = "For nginx's `auth_request`; answers any method the same way and never \
        reads a body. The credential is a Bearer access token or the pages' session cookie. \
        A refused browser navigation (it accepts `text/html`, with no `Authorization` and \
        no `X-Requested-With`) also carries `Location`, the login page with `rd` set from \
        `X-Original-URL`, when the public URL is configured.",
    security(("access_token" = []), ()),
    params(
        ("X-Original-URL" = Option<String>, Header, description = "The URL the client asked for."),
        ("X-Original-Method" = Option<String>, Header, description = "Its method."),
    ),
    responses(
        (status = 200, description = "Signed in: pass the request on, with these headers.",
         headers(
        ("Remote-User" = String, description = "The user's name."),
        ("Remote-User-Id" = String, description = "The user's id."),
        ("Remote-Session-Id" = String, description = "The session's id."),
         )),
        (status = 401, response = crate::openapi::InvalidToken),
    ),
)]
async fn auth_request(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    request: Request,
) -> Response {
    decide(&state, bearer, request.headers(), Proxy::Nginx).await
}

/// Caddy `forward_auth`, Traefik ForwardAuth.
#[utoipa::path(
    get, path = "/authz/forward-auth", tag = "forward auth",
    description = "For Caddy's `forward_auth` and Traefik's ForwardAuth, which pass any \
        answer but a 2xx back to the client; answers any method the same way and never \
        reads a body. The credential is a Bearer access token or the pages' session cookie. \
        A refused browser navigation is redirected to the login page (302 for GET and HEAD, \
        303 otherwise), with `rd` set from `X-Forwarded-Proto`, `-Host` and `-Uri`, when the \
        public URL is configured; anything else refused gets 401.",
    security(("access_token" = []), ()),
    params(
        ("X-Forwarded-Method" = Option<String>, Header, description = "The original method."),
        ("X-Forwarded-Proto" = Option<String>, Header, description = "Its scheme."),
        ("X-Forwarded-Host" = Option<String>, Header, description = "Its host."),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "Its path and query."),
    ),
    responses(
        (status = 200, description = "Signed in: pass the request on, with these headers.",
         headers(
        ("Remote-User" = String, description = "The user's name."),
        ("Remote-User-Id" = String, description = "The user's id."),
        ("Remote-Session-Id" = String, description = "The session's id."),
         )),
        (status = 302, description = "A refused page load: to the login page.",
         headers(("Location" = String, description = "The login page."))),
        (status = 303, description = "A refused navigation by another method: to the login page.",
         headers(("Location" = String, description = "The login page."))),
        (status = 401, response = crate::openapi::InvalidToken),
    ),
)]
async fn forward_auth(
    State(state): State<AppState>,
    Bearer(bearer): Bearer,
    request: Request,
) -> Response {
    decide(&state, bearer, request.headers(), Proxy::ForwardAuth).await
}

async fn decide(
    state: &AppState,
    bearer: Option<String>,
    headers: &HeaderMap,
    proxy: Proxy,
) -> Response {
    // A Bearer token decides alone: an API client is never redirected.
    if let Some(token) = bearer {
        return match state.sessions.authenticate(TokenKind::Access, &token).await {
            Ok(session) => allowed(&session),
            Err(e) => Error::from(e).into_response(),
        };
    }
    if let Some(value) = cookie::read(&state.config, headers) {
        match state.sessions.authenticate(TokenKind::Cookie, &value).await {
            Ok(session) => return allowed(&session),
            Err(adieu_service::Error::InvalidToken) => {}
            Err(e) => return Error::from(e).into_response(),
        }
    }
    refused(&state.config, headers, proxy)
}

const REMOTE_USER: HeaderName = HeaderName::from_static("remote-user");
const REMOTE_USER_ID: HeaderName = HeaderName::from_static("remote-user-id");
const REMOTE_SESSION_ID: HeaderName = HeaderName::from_static("remote-session-id");

/// 200 with an empty body and the identity for the proxy to pass on.
fn allowed(session: &Session) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    // Usernames are [A-Za-z0-9._-] and ids hex: always valid header values.
    for (name, value) in [
        (REMOTE_USER, &session.username),
        (REMOTE_USER_ID, &session.user_id),
        (REMOTE_SESSION_ID, &session.id),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    response
}

/// No valid credential: a browser navigation is sent to the login page (when Adieu knows its
/// public URL), anything else gets a plain 401.
pub(crate) fn refused(config: &Config, headers: &HeaderMap, proxy: Proxy) -> Response {
    let unauthorized = Error::InvalidToken { presented: false }.into_response();
    let Some(public) = config.public_origin.as_deref() else {
        return unauthorized;
    };
    if !is_navigation(headers) {
        return unauthorized;
    }
    let mut location = format!("{public}/login");
    if let Some(original) =
        original_url(headers, proxy).filter(|url| redirect::allowed_target(config, url).is_some())
    {
        location.push_str("?rd=");
        location.push_str(&redirect::encode_query_value(&original));
    }
    let Ok(location) = HeaderValue::from_str(&location) else {
        return unauthorized;
    };
    let mut response = match proxy {
        Proxy::Nginx => unauthorized,
        Proxy::ForwardAuth => {
            let get_like = original_method(headers, proxy)
                .is_none_or(|m| m == Method::GET || m == Method::HEAD);
            let status = if get_like {
                StatusCode::FOUND
            } else {
                StatusCode::SEE_OTHER
            };
            status.into_response()
        }
    };
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// Whether the request the proxy asks about is a browser loading a page: it accepts HTML and
/// is neither an API call (`Authorization`) nor a script's (`X-Requested-With`).
fn is_navigation(headers: &HeaderMap) -> bool {
    let accepts_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    let xhr = headers
        .get("x-requested-with")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"xmlhttprequest"));
    accepts_html && !xhr && !headers.contains_key(header::AUTHORIZATION)
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The URL the client asked the proxy for, as the proxy describes it.
fn original_url(headers: &HeaderMap, proxy: Proxy) -> Option<String> {
    match proxy {
        Proxy::Nginx => text(headers, "x-original-url").map(str::to_owned),
        Proxy::ForwardAuth => {
            let scheme = text(headers, "x-forwarded-proto").unwrap_or("https");
            let host = text(headers, "x-forwarded-host")?;
            let uri = text(headers, "x-forwarded-uri").unwrap_or("/");
            uri.starts_with('/')
                .then(|| format!("{scheme}://{host}{uri}"))
        }
    }
}

/// The method of the original request.
fn original_method(headers: &HeaderMap, proxy: Proxy) -> Option<Method> {
    let name = match proxy {
        Proxy::Nginx => "x-original-method",
        Proxy::ForwardAuth => "x-forwarded-method",
    };
    text(headers, name).and_then(|m| m.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn navigations_are_told_from_api_and_script_calls() {
        let page = "text/html,application/xhtml+xml,*/*;q=0.8";
        assert!(is_navigation(&headers(&[("accept", page)])));
        assert!(!is_navigation(&headers(&[("accept", "application/json")])));
        assert!(!is_navigation(&headers(&[])));
        assert!(!is_navigation(&headers(&[
            ("accept", page),
            ("x-requested-with", "XMLHttpRequest")
        ])));
        assert!(!is_navigation(&headers(&[
            ("accept", page),
            ("authorization", "Basic x")
        ])));
    }

    #[test]
    fn the_original_request_is_read_as_each_proxy_describes_it() {
        let nginx = headers(&[
            ("x-original-url", "https://app.example.com/a?b=1"),
            ("x-original-method", "POST"),
        ]);
        assert_eq!(
            original_url(&nginx, Proxy::Nginx).as_deref(),
            Some("https://app.example.com/a?b=1")
        );
        assert_eq!(original_method(&nginx, Proxy::Nginx), Some(Method::POST));
        let caddy = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-uri", "/a?b=1"),
            ("x-forwarded-method", "GET"),
        ]);
        assert_eq!(
            original_url(&caddy, Proxy::ForwardAuth).as_deref(),
            Some("https://app.example.com/a?b=1")
        );
        assert_eq!(
            original_method(&caddy, Proxy::ForwardAuth),
            Some(Method::GET)
        );
        let odd = headers(&[
            ("x-forwarded-host", "app.example.com"),
            ("x-forwarded-uri", "x"),
        ]);
        assert_eq!(original_url(&odd, Proxy::ForwardAuth), None);
    }
}
