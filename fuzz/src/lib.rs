//! What the fuzz targets share: the text form of their inputs and the properties that more
//! than one of them checks.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// Reads an input as an HTTP head and body: `Name: value` lines, then an empty line, then
/// the body. Lines that are not a valid header are skipped, so that any bytes are an input
/// and the seeds stay readable.
pub fn head_and_body(data: &[u8]) -> (HeaderMap, &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &data[data.len()..]),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let value = &line[colon + 1..];
        let value = &value[value.iter().take_while(|b| **b == b' ').count()..];
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    (headers, body)
}

/// Where the pages are published in every target's configuration.
pub const PUBLIC_ORIGIN: &str = "https://auth.example.com";

/// Panics unless a redirect target that login or logout accepted keeps the browser on an
/// allowed origin: Adieu's own (a local path, resolved against the login page as a browser
/// does), the cookie domain or one of its subdomains, or a listed host.
pub fn assert_stays_on_allowed_origins(
    target: &str,
    cookie_domain: Option<&str>,
    hosts: &[String],
) {
    let login = url::Url::parse(&format!("{PUBLIC_ORIGIN}/login")).expect("a valid URL");
    // A browser resolves the Location header against the page that sent it.
    let resolved = login
        .join(target)
        .unwrap_or_else(|e| panic!("accepted target {target:?} does not resolve: {e}"));
    assert!(
        matches!(resolved.scheme(), "https" | "http"),
        "accepted target {target:?} has scheme {}",
        resolved.scheme()
    );
    assert!(
        resolved.username().is_empty() && resolved.password().is_none(),
        "accepted target {target:?} carries credentials"
    );
    if target.starts_with('/') {
        assert_eq!(
            resolved.origin(),
            login.origin(),
            "the local path {target:?} leaves Adieu"
        );
        return;
    }
    let host = resolved.host_str().expect("an http(s) URL has a host");
    let listed = hosts.iter().any(|h| h.eq_ignore_ascii_case(host));
    let under_cookie_domain = match (resolved.host(), cookie_domain) {
        (Some(url::Host::Domain(name)), Some(domain)) => {
            name == domain || name.ends_with(&format!(".{domain}"))
        }
        _ => false,
    };
    assert!(
        listed || under_cookie_domain,
        "accepted target {target:?} goes to {host:?}, which is neither under {cookie_domain:?} \
         nor one of {hosts:?}"
    );
}
