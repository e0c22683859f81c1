//! The OAuth endpoints' form and client credentials (`/oauth2/introspect`, `/oauth2/revoke`):
//! `parse_form` and `credentials` of `adieu_server`'s `oauth` module.
//!
//! The input is an HTTP head (`Name: value` lines), an empty line, then the body.
//! - A refused form is a 400 and refused credentials a 400 or a 401: never a 5xx.
//! - An accepted form has no empty field (empty means omitted), and re-encoded by a standard
//!   form encoder it parses back the same; its `Debug` never depends on the token or the
//!   client secret.
//! - Accepted Basic credentials, re-encoded (form-urlencoded parts, then base64), read back
//!   the same; posted ones are the form's own.
#![no_main]

use adieu_fuzz::head_and_body;
use adieu_server::fuzzing::{TokenForm, credentials, parse_form};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (headers, body) = head_and_body(data);
    let form = match parse_form(&headers, body) {
        Ok(form) => form,
        Err(status) => {
            assert_eq!(status, StatusCode::BAD_REQUEST);
            return;
        }
    };
    let fields = fields(&form);
    for (name, value) in &fields {
        assert_ne!(
            value.as_deref(),
            Some(""),
            "{name} is empty rather than omitted"
        );
    }
    let mut encoder = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &fields {
        if let Some(value) = value {
            encoder.append_pair(name, value);
        }
    }
    let again = parse_form(&headers, encoder.finish().as_bytes()).expect("a re-encoded form");
    assert_eq!(self::fields(&again), fields);

    let redacted = TokenForm {
        token: form.token.as_ref().map(|_| "x".to_owned()),
        client_secret: form.client_secret.as_ref().map(|_| "y".to_owned()),
        token_type_hint: form.token_type_hint.clone(),
        client_id: form.client_id.clone(),
    };
    assert_eq!(
        format!("{form:?}"),
        format!("{redacted:?}"),
        "Debug shows a secret"
    );

    match credentials(&headers, &form) {
        Err(status) => assert!(
            [StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED].contains(&status),
            "{status}"
        ),
        Ok(None) => assert!(form.client_id.is_none() && form.client_secret.is_none()),
        Ok(Some((id, secret))) if headers.contains_key(header::AUTHORIZATION) => {
            assert!(form.client_id.is_none() && form.client_secret.is_none());
            let encode = |part: &str| {
                url::form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>()
            };
            let basic = STANDARD.encode(format!("{}:{}", encode(&id), encode(&secret)));
            let mut resent = HeaderMap::new();
            let value = HeaderValue::from_str(&format!("Basic {basic}")).expect("base64");
            resent.insert(header::AUTHORIZATION, value);
            // Only past the length limit is a re-encoding refused.
            match credentials(&resent, &TokenForm::default()) {
                Ok(read) => assert_eq!(read, Some((id, secret))),
                Err(_) => assert!(basic.len() > 1024),
            }
        }
        Ok(Some(posted)) => assert_eq!(
            Some(posted),
            form.client_id.clone().zip(form.client_secret.clone())
        ),
    }
});

fn fields(form: &TokenForm) -> [(&'static str, Option<String>); 4] {
    [
        ("token", form.token.clone()),
        ("token_type_hint", form.token_type_hint.clone()),
        ("client_id", form.client_id.clone()),
        ("client_secret", form.client_secret.clone()),
    ]
}
