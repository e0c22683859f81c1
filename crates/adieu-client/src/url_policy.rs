//! Where tokens may go: which server URLs are accepted, and which requests count as going to
//! the client's own server.

use std::net::IpAddr;

use reqwest::Url;

use crate::{Error, Result};

/// Checks and normalises a server URL: http(s), no credentials, query or fragment, and a path
/// ending in `/` so that endpoints join below it. Plain `http://` is accepted only for the
/// loopback, unless `allow_plain_http`.
pub(crate) fn parse_server(server: &str, allow_plain_http: bool) -> Result<Url> {
    let mut url = Url::parse(server.trim())
        .map_err(|e| Error::InvalidUrl(format!("{e} (expected e.g. https://adieu.example)")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_plain_http || is_loopback(&url) => {}
        "http" => {
            return Err(Error::InvalidUrl(
                "plain http:// is only allowed to this machine; use https://".into(),
            ));
        }
        other => return Err(Error::InvalidUrl(format!("unsupported scheme {other}:"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::InvalidUrl(
            "the URL must not contain a user name or password".into(),
        ));
    }
    if url.host().is_none() {
        return Err(Error::InvalidUrl("the URL has no host".into()));
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Whether `url` is on the server at `base`: the same origin, at or below its path. Only such a
/// request may carry this client's access token.
pub(crate) fn is_on_server(base: &Url, url: &Url) -> bool {
    url.origin() == base.origin() && url.path().starts_with(base.path())
}

/// The endpoint `path` below the server URL `base`.
pub(crate) fn endpoint(base: &Url, path: &str) -> Result<Url> {
    base.join(path.trim_start_matches('/'))
        .map_err(|e| Error::InvalidUrl(e.to_string()))
}

/// The endpoint `path` at `server`, a URL as recorded with a stored session or pending
/// revocation (the server that issued its tokens).
pub(crate) fn endpoint_at(server: &str, path: &str) -> Result<Url> {
    let base = Url::parse(server).map_err(|e| Error::InvalidUrl(e.to_string()))?;
    endpoint(&base, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_normalised_and_checked() {
        let url = parse_server("https://adieu.example/base?x=1#frag", false).unwrap();
        assert_eq!(url.as_str(), "https://adieu.example/base/");
        assert_eq!(
            endpoint(&url, "/api/logout").unwrap().as_str(),
            "https://adieu.example/base/api/logout"
        );
        assert!(parse_server("http://127.0.0.1:8080", false).is_ok());
        assert!(parse_server("http://[::1]:8080", false).is_ok());
        assert!(parse_server("http://localhost:8080", false).is_ok());
        let err = parse_server("http://adieu.example", false).unwrap_err();
        assert!(err.to_string().contains("https"), "{err}");
        assert!(parse_server("http://adieu.example", true).is_ok());
        assert!(parse_server("https://bob:pw@adieu.example", false).is_err());
        assert!(parse_server("ftp://adieu.example", false).is_err());
        assert!(parse_server("adieu.example", false).is_err());
    }

    #[test]
    fn only_requests_below_the_server_url_are_on_the_server() {
        let base = parse_server("https://adieu.example/base", false).unwrap();
        let on = |url: &str| is_on_server(&base, &Url::parse(url).unwrap());
        assert!(on("https://adieu.example/base/api/me"));
        assert!(!on("https://adieu.example/other/api/me"));
        assert!(!on("http://adieu.example/base/api/me"));
        assert!(!on("https://adieu.example:8443/base/api/me"));
        assert!(!on("https://evil.example/base/api/me"));
    }
}
