//! [`AdieuGuard`]: the introspection client, and [`AdieuGuardBuilder`], how one is made.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::{AdieuGuardLayer, AdieuUser, Error, Result};

/// How long an introspection may take, connecting included, unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest introspection answer read; Adieu's are a few hundred bytes.
const MAX_ANSWER: usize = 16 * 1024;

/// Asks Adieu's introspection endpoint (RFC 7662) whether an access token is live.
///
/// Cheap to clone: clones share one `reqwest` connection pool. Nothing is cached: every
/// [`introspect`](Self::introspect) asks Adieu, so a logout is seen by the very next request.
#[derive(Clone)]
pub struct AdieuGuard {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: Url,
    client_id: String,
    /// `Basic base64(urlencode(id):urlencode(secret))`, marked sensitive; the secret is kept
    /// nowhere else.
    authorization: HeaderValue,
    timeout: Duration,
}

impl fmt::Debug for AdieuGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdieuGuard")
            .field("introspection_url", &self.inner.url.as_str())
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &"[redacted]")
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

impl AdieuGuard {
    /// A guard that asks `introspection_url`, e.g. `https://auth.example.com/oauth2/introspect`.
    pub fn builder(introspection_url: impl Into<String>) -> AdieuGuardBuilder {
        AdieuGuardBuilder {
            url: introspection_url.into(),
            credentials: None,
            timeout: DEFAULT_TIMEOUT,
            allow_plain_http: false,
        }
    }

    /// The tower layer that puts this guard before a service.
    pub fn layer(&self) -> AdieuGuardLayer {
        AdieuGuardLayer::new(self.clone())
    }

    /// Asks Adieu about `token`: `Some` user if it is a live access token, `None` if it is
    /// not (unknown, expired, revoked, or another kind of token).
    ///
    /// An error means that the answer is unknown; treat it as a refusal.
    pub async fn introspect(&self, token: &str) -> Result<Option<AdieuUser>> {
        let inner = &self.inner;
        let response = inner
            .http
            .post(inner.url.clone())
            .header(header::AUTHORIZATION, inner.authorization.clone())
            .header(header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(request_error)?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => return Err(Error::ClientRefused),
            status => {
                return Err(Error::UnexpectedStatus {
                    status: status.as_u16(),
                });
            }
        }
        let body = read_bounded(response).await?;
        let answer: Introspection = serde_json::from_slice(&body).map_err(|_| Error::Decode)?;
        answer.user()
    }
}

/// The fields of an RFC 7662 answer that the guard reads; others are ignored.
#[derive(Deserialize)]
struct Introspection {
    active: bool,
    token_type: Option<String>,
    sub: Option<String>,
    username: Option<String>,
    sid: Option<String>,
}

impl Introspection {
    fn user(self) -> Result<Option<AdieuUser>> {
        // A refresh token is live too, but it is no credential for an API call.
        if !self.active || self.token_type.as_deref() != Some("access_token") {
            return Ok(None);
        }
        // An active access token without its user or session is not an answer we can use.
        match (self.sub, self.username, self.sid) {
            (Some(user_id), Some(username), Some(session_id)) => Ok(Some(AdieuUser {
                user_id,
                username,
                session_id,
            })),
            _ => Err(Error::Decode),
        }
    }
}

fn request_error(e: reqwest::Error) -> Error {
    let e = e.without_url();
    if e.is_timeout() {
        Error::Timeout(e)
    } else {
        Error::Unreachable(e)
    }
}

/// The body, refused past [`MAX_ANSWER`] bytes.
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER as u64)
    {
        return Err(Error::Decode);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(Error::Decode);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// How an [`AdieuGuard`] is configured: [`AdieuGuard::builder`].
#[must_use]
pub struct AdieuGuardBuilder {
    url: String,
    credentials: Option<(String, String)>,
    timeout: Duration,
    allow_plain_http: bool,
}

impl fmt::Debug for AdieuGuardBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdieuGuardBuilder")
            .field("introspection_url", &self.url)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id))
            .field("client_secret", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("allow_plain_http", &self.allow_plain_http)
            .finish()
    }
}

impl AdieuGuardBuilder {
    /// The guard's own client, as created on Adieu's admin API (`POST /admin/clients`).
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some((client_id.into(), client_secret.into()));
        self
    }

    /// How long one introspection may take, connecting included (default
    /// [`DEFAULT_TIMEOUT`]). Past it the request is answered 503.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Allows a plain `http://` introspection URL to another machine. The client secret and
    /// every token then cross the network in clear: only for a network you trust entirely.
    /// (`http://` to the loopback is always allowed.)
    pub fn allow_plain_http(mut self) -> Self {
        self.allow_plain_http = true;
        self
    }

    /// Checks the configuration and builds the guard with its connection pool.
    pub fn build(self) -> Result<AdieuGuard> {
        let url = parse_url(&self.url, self.allow_plain_http)?;
        let (client_id, client_secret) = self.credentials.ok_or(Error::MissingCredentials)?;
        let authorization = basic_authorization(&client_id, &client_secret);
        drop(client_secret);
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            // The credentials go to this URL only, never where a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("adieu-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::HttpClient)?;
        Ok(AdieuGuard {
            inner: Arc::new(Inner {
                http,
                url,
                client_id,
                authorization,
                timeout: self.timeout,
            }),
        })
    }
}

/// RFC 6749 §2.3.1: each part form-urlencoded, then joined with `:` and base64-encoded.
fn basic_authorization(client_id: &str, client_secret: &str) -> HeaderValue {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(client_id), encode(client_secret));
    let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(credentials)))
        .expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

/// An http(s) URL without credentials or fragment; plain http only to the loopback unless
/// allowed.
fn parse_url(url: &str, allow_plain_http: bool) -> Result<Url> {
    let url = Url::parse(url.trim()).map_err(|_| Error::InvalidUrl("not a URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_plain_http || is_loopback(&url) => {}
        "http" => {
            return Err(Error::InvalidUrl(
                "plain http:// is only allowed to this machine; use https://",
            ));
        }
        _ => return Err(Error::InvalidUrl("the scheme must be https")),
    }
    if url.host().is_none() {
        return Err(Error::InvalidUrl("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::InvalidUrl(
            "the URL must not hold credentials; use client_credentials",
        ));
    }
    if url.fragment().is_some() {
        return Err(Error::InvalidUrl("the URL must not have a fragment"));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(url: &str) -> AdieuGuardBuilder {
        AdieuGuard::builder(url).client_credentials("resource-api", "s3cr3t")
    }

    #[test]
    fn client_credentials_are_form_urlencoded_before_base64() {
        let value = basic_authorization("my client", "p@ss:wörd+/");
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "my+client:p%40ss%3Aw%C3%B6rd%2B%2F");
    }

    #[test]
    fn the_debug_of_a_guard_and_its_builder_hide_the_secret() {
        let b = builder("https://auth.example.com/oauth2/introspect");
        assert!(!format!("{b:?}").contains("s3cr3t"));
        let guard = b.build().unwrap();
        let debug = format!("{guard:?}");
        assert!(debug.contains("resource-api"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        // Not even base64-encoded.
        assert!(!debug.contains("czNjcjN0"), "{debug}");
    }

    #[test]
    fn plain_http_is_refused_except_to_the_loopback_or_when_allowed() {
        for url in [
            "http://127.0.0.1:8080/oauth2/introspect",
            "http://[::1]/oauth2/introspect",
            "http://localhost/oauth2/introspect",
            "https://auth.example.com/oauth2/introspect",
        ] {
            builder(url)
                .build()
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        let plain = "http://auth.example.com/oauth2/introspect";
        assert!(matches!(builder(plain).build(), Err(Error::InvalidUrl(_))));
        builder(plain).allow_plain_http().build().unwrap();
    }

    #[test]
    fn unusable_configurations_are_refused() {
        for url in [
            "auth.example.com",
            "ftp://auth.example.com/",
            "https://user:pw@auth.example.com/oauth2/introspect",
            "https://auth.example.com/oauth2/introspect#x",
        ] {
            assert!(
                matches!(builder(url).build(), Err(Error::InvalidUrl(_))),
                "{url}"
            );
        }
        let no_credentials = AdieuGuard::builder("https://auth.example.com/").build();
        assert!(matches!(no_credentials, Err(Error::MissingCredentials)));
    }

    fn answer(json: &str) -> Result<Option<AdieuUser>> {
        serde_json::from_str::<Introspection>(json).unwrap().user()
    }

    #[test]
    fn only_an_active_access_token_with_its_user_and_session_is_a_user() {
        let user = answer(
            r#"{"active":true,"token_type":"access_token","sub":"u1","username":"alice",
                "sid":"s1","iat":1,"exp":2,"iss":"https://auth.example.com"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            user,
            AdieuUser {
                user_id: "u1".into(),
                username: "alice".into(),
                session_id: "s1".into(),
            }
        );
        assert_eq!(answer(r#"{"active":false}"#).unwrap(), None);
        let refresh = r#"{"active":true,"token_type":"refresh_token","sub":"u1",
                          "username":"alice","sid":"s1"}"#;
        assert_eq!(answer(refresh).unwrap(), None);
        let untyped = r#"{"active":true,"sub":"u1","username":"alice","sid":"s1"}"#;
        assert_eq!(answer(untyped).unwrap(), None);
        let no_session = r#"{"active":true,"token_type":"access_token","sub":"u1",
                             "username":"alice"}"#;
        assert!(matches!(answer(no_session), Err(Error::Decode)));
    }
}
