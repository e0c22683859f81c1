//! The browser session cookie: its name, its attributes, and reading it back.
//!
//! The value is an opaque random token (`adieu_ck_…`); the database holds only its hash.
//! It is a session cookie (no `Max-Age`): it ends with the browser, and the server enforces
//! the idle and absolute timeouts whatever the browser keeps.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::config::Config;

/// Name with the `__Host-` prefix: the browser accepts it only with `Secure`, `Path=/` and no
/// `Domain`, so no subdomain or plain-HTTP page can plant or overwrite it.
const HOST_NAME: &str = "__Host-adieu_session";
/// Name for a cookie shared with the subdomains (`--cookie-domain`): `__Secure-` still makes
/// the browser refuse it from plain HTTP, but allows the `Domain` attribute.
const DOMAIN_NAME: &str = "__Secure-adieu_session";
/// Name used when `Secure` is switched off (a prefix would make browsers drop the cookie).
const PLAIN_NAME: &str = "adieu_session";
/// Longest cookie value looked at; real values are 52 characters.
const MAX_VALUE: usize = 128;

/// The session cookie's name under this configuration.
pub fn name(config: &Config) -> &'static str {
    match (config.secure_cookies, &config.cookie_domain) {
        (false, _) => PLAIN_NAME,
        (true, None) => HOST_NAME,
        (true, Some(_)) => DOMAIN_NAME,
    }
}

fn attributes(config: &Config) -> String {
    let mut attributes = String::from("Path=/; ");
    if let Some(domain) = &config.cookie_domain {
        attributes.push_str(&format!("Domain={domain}; "));
    }
    attributes.push_str("HttpOnly; SameSite=Lax");
    if config.secure_cookies {
        attributes.push_str("; Secure");
    }
    attributes
}

/// `Set-Cookie` value that hands a new session cookie to the browser.
pub(crate) fn issue(config: &Config, value: &str) -> HeaderValue {
    let cookie = format!("{}={value}; {}", name(config), attributes(config));
    HeaderValue::from_str(&cookie).expect("cookie tokens and domains are header-safe")
}

/// `Set-Cookie` value that deletes the session cookie.
pub(crate) fn expire(config: &Config) -> HeaderValue {
    let cookie = format!("{}=; Max-Age=0; {}", name(config), attributes(config));
    HeaderValue::from_str(&cookie).expect("cookie attributes are header-safe")
}

/// The session cookie's value in a request, if it carries one.
pub(crate) fn read(config: &Config, headers: &HeaderMap) -> Option<String> {
    let wanted = name(config);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty() && value.len() <= MAX_VALUE)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secure: bool) -> Config {
        Config {
            secure_cookies: secure,
            ..Config::default()
        }
    }

    #[test]
    fn the_default_cookie_is_host_prefixed_secure_http_only_and_lax() {
        let set = issue(&config(true), "adieu_ck_abc");
        assert_eq!(
            set,
            "__Host-adieu_session=adieu_ck_abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        let gone = expire(&config(true));
        assert_eq!(
            gone,
            "__Host-adieu_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn a_cookie_domain_gives_a_secure_prefixed_cookie_for_the_subdomains() {
        let config = Config {
            cookie_domain: Some("example.com".into()),
            ..Config::default()
        };
        assert_eq!(
            issue(&config, "adieu_ck_abc"),
            "__Secure-adieu_session=adieu_ck_abc; Path=/; Domain=example.com; HttpOnly; \
             SameSite=Lax; Secure"
        );
        assert!(
            expire(&config)
                .to_str()
                .unwrap()
                .contains("Max-Age=0; Path=/; Domain=example.com")
        );
        assert_eq!(
            crate::config::parse_cookie_domain(".Example.COM").unwrap(),
            "example.com"
        );
        for bad in [
            "com",
            "exa mple.com",
            "-a.com",
            "a..com",
            "",
            "a.com/",
            "a.com;x=y",
        ] {
            assert!(crate::config::parse_cookie_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn without_secure_the_prefix_goes_too() {
        let set = issue(&config(false), "adieu_ck_abc");
        assert_eq!(
            set,
            "adieu_session=adieu_ck_abc; Path=/; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn the_cookie_is_found_among_others_and_in_any_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("x=y;__Host-adieu_session=adieu_ck_v ; z=w"),
        );
        assert_eq!(read(&config(true), &headers).as_deref(), Some("adieu_ck_v"));
        assert_eq!(read(&config(false), &headers), None);
    }

    #[test]
    fn empty_and_oversized_values_count_as_no_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("adieu_session="));
        assert_eq!(read(&config(false), &headers), None);
        let long = format!("adieu_session={}", "a".repeat(MAX_VALUE + 1));
        headers.insert(header::COOKIE, HeaderValue::from_str(&long).unwrap());
        assert_eq!(read(&config(false), &headers), None);
    }
}
