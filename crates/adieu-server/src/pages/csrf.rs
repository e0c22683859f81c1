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
use crate::AppState;

/// Proof that a POST came from one of our own pages; refuses the request (403) otherwise.
///
/// As an extractor it runs before the body is read, so a forged request is refused whatever
/// it carries.
pub(crate) struct SameOrigin;

impl FromRequestParts<AppState> for SameOrigin {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if from_same_origin(&parts.headers, state.config.public_origin.as_deref()) {
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

/// Whether the request's own headers say it came from this origin: `public_origin` when the
/// pages are published elsewhere (behind a TLS proxy, say), else `http://` and the `Host`
/// this server was reached at. Scheme and host both count: a page on `http://` is not our
/// `https://` origin.
///
/// Browsers send `Sec-Fetch-Site` and `Origin` with every form POST, so a request with
/// neither comes from a program (curl, a test client), not from a page on another site; the
/// synchronizer token still guards the signed-in forms against those.
fn from_same_origin(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // `same-site` is not enough: a sibling origin (another port, another subdomain) is
        // the same site but not us.
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    match public_origin {
        Some(expected) => origin.eq_ignore_ascii_case(expected),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let authority = origin.strip_prefix("http://");
            matches!((authority, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
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

    fn from_same_origin_here(h: &HeaderMap) -> bool {
        from_same_origin(h, None)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_same_origin_browser_post_passes() {
        assert!(from_same_origin_here(&headers(&[
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
            assert!(!from_same_origin_here(&h), "{site}");
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
            assert!(!from_same_origin_here(&h), "{origin}");
        }
        assert!(!from_same_origin_here(&headers(&[(
            "origin",
            "http://localhost:8080"
        )])));
    }

    #[test]
    fn a_request_without_browser_headers_is_left_to_the_token() {
        assert!(from_same_origin_here(&headers(&[(
            "host",
            "localhost:8080"
        )])));
    }

    #[test]
    fn the_scheme_counts_as_much_as_the_host() {
        // This server speaks plain HTTP: a page on https://its-host is another origin.
        let h = headers(&[
            ("host", "localhost:8080"),
            ("origin", "https://localhost:8080"),
        ]);
        assert!(!from_same_origin(&h, None));
        // Published behind TLS: only the public origin, scheme included, is ours.
        let public = Some("https://auth.example.com");
        for (origin, ours) in [
            ("https://auth.example.com", true),
            ("HTTPS://Auth.Example.com", true),
            ("http://auth.example.com", false),
            ("https://auth.example.com:8443", false),
            ("https://auth.example.com.evil.example", false),
        ] {
            let h = headers(&[("host", "adieu.internal:8080"), ("origin", origin)]);
            assert_eq!(from_same_origin(&h, public), ours, "{origin}");
        }
    }
}
