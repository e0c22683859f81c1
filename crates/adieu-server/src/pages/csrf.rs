//! Cross-site request forgery defences for every form POST.
//!
//! Two independent checks: the browser's own word on where the request came from
//! (`Sec-Fetch-Site`, else `Origin` against `Host`), and for signed-in forms a synchronizer
//! token derived from the session cookie ([`adieu_core::token::csrf_token`]) that another site
//! can neither read nor compute.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::error::PageError;

/// Proof that a POST came from one of our own pages; refuses the request (403) otherwise.
///
/// As an extractor it runs before the body is read, so a forged request is refused whatever
/// it carries.
pub(crate) struct SameOrigin;

impl<S: Send + Sync> FromRequestParts<S> for SameOrigin {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if from_same_origin(&parts.headers) {
            Ok(Self)
        } else {
            tracing::warn!(
                origin = ?parts.headers.get(header::ORIGIN),
                sec_fetch_site = ?parts.headers.get("sec-fetch-site"),
                path = %parts.uri.path(),
                "cross-site form post refused"
            );
            Err(PageError::Forbidden)
        }
    }
}

/// Whether the request's own headers say it came from this origin.
///
/// Browsers send `Sec-Fetch-Site` and `Origin` with every form POST, so a request with
/// neither comes from a program (curl, a test client), not from a page on another site; the
/// synchronizer token still guards the signed-in forms against those.
fn from_same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // `same-site` is not enough: a sibling origin (another port, another subdomain) is
        // the same site but not us.
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .map(|(_, authority)| authority);
            matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
        }
    }
}

/// Whether a submitted synchronizer token belongs to this cookie (constant-time).
pub(crate) fn token_matches(cookie: &str, submitted: &str) -> bool {
    adieu_core::token::csrf_matches(cookie, submitted)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_same_origin_browser_post_passes() {
        assert!(from_same_origin(&headers(&[
            ("host", "localhost:8080"),
            ("origin", "http://localhost:8080"),
            ("sec-fetch-site", "same-origin"),
        ])));
    }

    #[test]
    fn cross_site_and_same_site_posts_are_refused() {
        for site in ["cross-site", "same-site", "none"] {
            let mut h = headers(&[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:8080"),
            ]);
            h.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert!(!from_same_origin(&h), "{site}");
        }
    }

    #[test]
    fn a_foreign_or_null_origin_is_refused_without_fetch_metadata() {
        for origin in [
            "http://evil.example",
            "http://localhost:8081",
            "null",
            "http://localhost:8080.evil.example",
        ] {
            let h = headers(&[("host", "localhost:8080"), ("origin", origin)]);
            assert!(!from_same_origin(&h), "{origin}");
        }
        assert!(!from_same_origin(&headers(&[(
            "origin",
            "http://localhost:8080"
        )])));
    }

    #[test]
    fn a_request_without_browser_headers_is_left_to_the_token() {
        assert!(from_same_origin(&headers(&[("host", "localhost:8080")])));
    }
}
