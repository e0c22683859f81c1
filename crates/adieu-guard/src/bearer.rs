//! The `Authorization: Bearer` credential of a request (RFC 6750 §2.1).

use axum::http::{HeaderMap, header};

/// Longest credential even looked at; Adieu's tokens are far shorter.
const MAX_TOKEN: usize = 512;

/// What a request presented.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Presented<'a> {
    /// No `Authorization` header at all.
    Nothing,
    /// An `Authorization` header that is not one well-shaped Bearer credential.
    Malformed,
    /// A well-shaped Bearer token, to be introspected.
    Token(&'a str),
}

/// Reads the Bearer token of a request, refusing anything but `Bearer <b64token>`.
pub(crate) fn presented(headers: &HeaderMap) -> Presented<'_> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::Nothing;
    };
    if values.next().is_some() {
        return Presented::Malformed;
    }
    let Ok(value) = value.to_str() else {
        return Presented::Malformed;
    };
    // The scheme is case-insensitive; one or more spaces separate it from the token.
    let Some((scheme, token)) = value.split_once(' ') else {
        return Presented::Malformed;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Malformed;
    }
    let token = token.trim_start_matches(' ');
    if is_b64token(token) {
        Presented::Token(token)
    } else {
        Presented::Malformed
    }
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`, of sane length.
fn is_b64token(token: &str) -> bool {
    if token.len() > MAX_TOKEN {
        return false;
    }
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_case_of_the_scheme() {
        let token = "adieu_at_AbC-_09xyz";
        for value in [
            format!("Bearer {token}"),
            format!("bearer {token}"),
            format!("BEARER  {token}"),
        ] {
            assert_eq!(
                presented(&with(&[&value])),
                Presented::Token(token),
                "{value}"
            );
        }
        assert_eq!(
            presented(&with(&["Bearer abc=="])),
            Presented::Token("abc==")
        );
    }

    #[test]
    fn no_header_is_nothing_presented() {
        assert_eq!(presented(&HeaderMap::new()), Presented::Nothing);
    }

    #[test]
    fn anything_but_one_well_shaped_bearer_credential_is_malformed() {
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN + 1));
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer  ",
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            "Bearertoken",
            "Bearer a b",
            "Bearer tok,en",
            "Bearer a=b",
            "Bearer ===",
            "Bearer tok\"en",
            long.as_str(),
        ] {
            assert_eq!(
                presented(&with(&[value])),
                Presented::Malformed,
                "{value:?}"
            );
        }
        assert_eq!(
            presented(&with(&["Bearer one", "Bearer two"])),
            Presented::Malformed
        );
        let mut opaque = HeaderMap::new();
        opaque.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        );
        assert_eq!(presented(&opaque), Presented::Malformed);
    }
}
