//! The `Authorization` and `Cookie` headers, as the server reads a Bearer token and the
//! session cookie from them.
//!
//! The input is an HTTP head (`Name: value` lines).
//! - `Authorization`: no header is no credential; a refusal is always a 401; an accepted
//!   token is non-empty, trimmed, of bounded length, and is what follows `Bearer ` (any case);
//!   sent again as `Bearer <token>` it reads back the same.
//! - `Cookie`, under each cookie name (`__Host-`, `__Secure-`, plain): a value read is
//!   non-empty, bounded, holds no separator and is the value of a cookie of exactly that
//!   name in one of the headers; sent alone it reads back the same.
#![no_main]

use adieu_fuzz::head_and_body;
use adieu_server::Config;
use adieu_server::fuzzing::{bearer, session_cookie};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (headers, _) = head_and_body(data);
    check_bearer(&headers);
    for (secure, domain) in [(true, None), (true, Some("example.com")), (false, None)] {
        let config = Config {
            secure_cookies: secure,
            cookie_domain: domain.map(str::to_owned),
            ..Config::default()
        };
        check_cookie(&config, &headers);
    }
});

fn check_bearer(headers: &HeaderMap) {
    let read = bearer(headers);
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        assert_eq!(read, Ok(None));
        return;
    };
    let token = match read {
        Err(status) => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            return;
        }
        Ok(None) => panic!("an Authorization header read as no credential"),
        Ok(Some(token)) => token,
    };
    assert!(!token.is_empty() && token == token.trim(), "{token:?}");
    assert!(token.len() <= 256, "a token of {} bytes", token.len());
    let value = value.to_str().expect("an accepted header is visible ASCII");
    let (scheme, rest) = value.split_once(' ').expect("Bearer and a token");
    assert!(scheme.eq_ignore_ascii_case("bearer"), "{value:?}");
    assert_eq!(rest.trim(), token);
    // The token alone, as a client sends it, reads back the same.
    let mut again = HeaderMap::new();
    let sent = HeaderValue::from_str(&format!("Bearer {token}")).expect("a valid header");
    again.insert(header::AUTHORIZATION, sent);
    assert_eq!(bearer(&again), Ok(Some(token)));
}

fn check_cookie(config: &Config, headers: &HeaderMap) {
    let name = adieu_server::session_cookie_name(config);
    let Some(value) = session_cookie(config, headers) else {
        return;
    };
    assert!(!value.is_empty() && value.len() <= 128, "{value:?}");
    assert_eq!(value, value.trim());
    assert!(!value.contains(';'), "{value:?}");
    let sent = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(n, v)| n == name && v.trim() == value);
    assert!(sent, "{value:?} is not the value of a cookie named {name}");
    // Another cookie's name never matches: the value comes back only under its own name.
    let mut alone = HeaderMap::new();
    let cookie = HeaderValue::from_str(&format!("other=1; {name}={value}")).expect("valid");
    alone.insert(header::COOKIE, cookie);
    assert_eq!(
        session_cookie(config, &alone).as_deref(),
        Some(value.as_str())
    );
    let renamed = HeaderValue::from_str(&format!("x{name}={value}")).expect("valid");
    alone.insert(header::COOKIE, renamed);
    assert_eq!(session_cookie(config, &alone), None);
}
