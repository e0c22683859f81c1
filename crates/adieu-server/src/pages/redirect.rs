//! Redirect targets taken from requests (`next=`): only paths on this site are followed.

/// Longest `next` followed; anything longer is ignored rather than truncated.
const MAX_NEXT: usize = 512;

/// `next` if it is a path on this site, `None` for anything a browser could resolve elsewhere.
///
/// Browsers read `//host`, `/\host` and `\\host` as links to another host and drop tabs and
/// newlines inside URLs, so only a single leading `/` followed by visible ASCII without any
/// backslash is accepted.
pub(crate) fn local_path(next: &str) -> Option<&str> {
    let bytes = next.as_bytes();
    let local = next.len() <= MAX_NEXT
        && bytes.first() == Some(&b'/')
        && bytes.get(1) != Some(&b'/')
        && bytes.iter().all(|b| b.is_ascii_graphic() && *b != b'\\');
    local.then_some(next)
}

/// Longest absolute `rd` followed.
const MAX_RD: usize = 2048;

/// Where a browser may be sent after login or logout (`rd=`): a local path (see
/// [`local_path`]), or an absolute `http(s)` URL with no user name or password whose host is
/// `cookie_domain`, one of its subdomains, or one of `hosts`. Anything else is `None`, and
/// the caller falls back to `/`.
///
/// The URL is read as browsers read it (the WHATWG rules of the `url` crate): a backslash is a
/// slash, percent-encoded host bytes are decoded, and the host is compared after that, so
/// `https://evil.example\@app.example.com` and `https://app.example.com%2eevil.example` name
/// the hosts a browser would go to.
pub(crate) fn redirect_target(
    target: &str,
    cookie_domain: Option<&str>,
    hosts: &[String],
) -> Option<String> {
    if let Some(path) = local_path(target) {
        return Some(path.to_owned());
    }
    if target.len() > MAX_RD || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let url = url::Url::parse(target).ok()?;
    if !matches!(url.scheme(), "https" | "http")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let url::Host::Domain(host) = url.host()? else {
        // An address names no domain of ours, unless it is listed as it is.
        let host = url.host_str()?;
        return hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
            .then(|| url.to_string());
    };
    let under = |domain: &str| {
        let domain = domain.trim_start_matches('.');
        !domain.is_empty()
            && (host.eq_ignore_ascii_case(domain)
                || host
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{}", domain.to_ascii_lowercase())))
    };
    let allowed =
        cookie_domain.is_some_and(under) || hosts.iter().any(|h| h.eq_ignore_ascii_case(host));
    allowed.then(|| url.to_string())
}

/// [`redirect_target`] under this server's `--cookie-domain` and `--redirect-hosts`.
pub(crate) fn allowed_target(config: &crate::Config, target: &str) -> Option<String> {
    redirect_target(
        target,
        config.cookie_domain.as_deref(),
        &config.redirect_hosts,
    )
}

/// Where to go once logged out: an app's own URL that `rd` named (it sends the browser back
/// to the login page itself, if it is protected), else the login page with `message`.
pub(crate) fn after_logout(config: &crate::Config, next: Option<&str>, message: &str) -> String {
    match next.and_then(|n| allowed_target(config, n)) {
        Some(target) if !target.starts_with('/') => target,
        _ => login_url(next, Some(message)),
    }
}

/// Percent-encodes a value for a query string (everything but unreserved characters and `/`).
pub(crate) fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/login`, carrying `next` along when it is a local path other than the home page.
pub(crate) fn login_url(next: Option<&str>, extra: Option<&str>) -> String {
    let mut query = Vec::new();
    if let Some(extra) = extra {
        query.push(extra.to_owned());
    }
    if let Some(next) = next.and_then(local_path).filter(|n| *n != "/") {
        query.push(format!("next={}", encode_query_value(next)));
    }
    if query.is_empty() {
        "/login".to_owned()
    } else {
        format!("/login?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_followed() {
        for ok in ["/", "/account", "/account?tab=password", "/a/b%2F%2Fc#frag"] {
            assert_eq!(local_path(ok), Some(ok), "{ok}");
        }
    }

    #[test]
    fn anything_that_can_leave_the_site_is_refused() {
        for bad in [
            "",
            "account",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            "https://evil.example",
            "http:/evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/caf\u{e9}",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(MAX_NEXT))), None);
    }

    fn rd(target: &str) -> Option<String> {
        redirect_target(target, Some("example.com"), &["partner.example.org".into()])
    }

    #[test]
    fn redirects_to_the_cookie_domain_its_subdomains_and_listed_hosts_are_followed() {
        for ok in [
            "https://example.com/",
            "https://app.example.com/dashboard?x=1",
            "http://deep.app.example.com:8080/a#b",
            "https://APP.Example.COM/",
            "https://partner.example.org/back",
        ] {
            assert!(rd(ok).is_some(), "{ok}");
        }
        assert_eq!(rd("/account").as_deref(), Some("/account"));
        assert_eq!(
            rd("https://app.example.com/a").as_deref(),
            Some("https://app.example.com/a")
        );
    }

    #[test]
    fn open_redirect_tricks_are_refused() {
        for bad in [
            "//evil.com",
            "///evil.com",
            "https://evil.com",
            "https://example.com.evil.com/",
            "https://evilexample.com/",
            "https://evil.com\\@example.com",
            "https://evil.com\\@app.example.com/",
            "https://user@app.example.com/",
            "https://user:pw@app.example.com/",
            "https://example.com@evil.com/",
            "javascript:alert(1)",
            "JavaScript://example.com/%0aalert(1)",
            "data:text/html,hi",
            "https://example.com%2eevil.com/",
            "https://app.example.com%2F@evil.com/",
            "https%3A%2F%2Fevil.com",
            "%2F%2Fevil.com",
            "https://evil.com%23.example.com/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://app.example.com/\t",
            "https://app.example.com/ x",
            "",
        ] {
            assert_eq!(rd(bad), None, "{bad:?}");
        }
        // Encoded slashes inside a local path stay a path on this site.
        assert_eq!(
            rd("/%2F%2Fevil.com/../x").as_deref(),
            Some("/%2F%2Fevil.com/../x")
        );
        // Without a cookie domain or hosts, only local paths.
        assert_eq!(redirect_target("https://example.com/", None, &[]), None);
        assert!(redirect_target("https://10.0.0.1/", None, &["10.0.0.1".into()]).is_some());
    }

    #[test]
    fn login_urls_carry_only_local_next_values() {
        assert_eq!(login_url(None, None), "/login");
        assert_eq!(login_url(Some("/"), None), "/login");
        assert_eq!(
            login_url(Some("/account?x=1&y"), Some("logged_out=1")),
            "/login?logged_out=1&next=/account%3Fx%3D1%26y"
        );
        assert_eq!(login_url(Some("//evil.example"), None), "/login");
    }
}
