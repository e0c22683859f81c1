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
