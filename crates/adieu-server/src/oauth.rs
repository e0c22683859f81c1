//! The OAuth endpoints for resource servers: RFC 7662 introspection, RFC 7009 revocation and
//! RFC 8414 metadata.
//!
//! - `POST /oauth2/introspect` needs a client's credentials (HTTP Basic, or `client_id` and
//!   `client_secret` in the form) and answers `{"active":false}` for anything but a live
//!   access or refresh token. It is the coherent check of `/api/me`: once a logout has
//!   answered, every node says inactive.
//! - `POST /oauth2/revoke` ends the session of any token of it and answers 200 whatever the
//!   token, once no node accepts the session. Credentials are optional; wrong ones are 401.
//! - `GET /.well-known/oauth-authorization-server` says where both are.
//!
//! Every answer is `no-store` (the global layer), as RFC 7662 §4 asks: a cached "active" is
//! what reopens the window after a logout.

use std::convert::Infallible;
use std::net::SocketAddr;

use adieu_core::TokenKind;
use adieu_types::{IntrospectionResponse, OAuthError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::AppState;
use crate::error::ErrorChain;
use crate::extract::client_info;

/// Routes of the OAuth endpoints.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/revoke", post(revoke))
        .route("/.well-known/oauth-authorization-server", get(metadata))
}

/// The issuer: the public URL when configured, else this server's own address.
pub(crate) fn issuer(config: &crate::Config) -> String {
    config
        .public_origin
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen))
}

/// A refusal in RFC 6749 §5.2's form.
#[derive(Debug)]
pub(crate) enum Failure {
    /// 400: the request is not what the RFC asks for.
    InvalidRequest(&'static str),
    /// 413: a body past the limit.
    TooLarge,
    /// 401: client authentication failed.
    InvalidClient,
    /// 429 with `Retry-After`.
    RateLimited(u64),
    /// 500: ours; the cause goes to the log.
    Internal(adieu_service::Error),
}

impl From<adieu_service::Error> for Failure {
    fn from(err: adieu_service::Error) -> Self {
        match err {
            adieu_service::Error::InvalidClient => Self::InvalidClient,
            adieu_service::Error::RateLimited { retry_after } => Self::RateLimited(retry_after),
            other => Self::Internal(other),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, error, description) = match &self {
            Self::InvalidRequest(text) => (StatusCode::BAD_REQUEST, "invalid_request", *text),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "request body is too large",
            ),
            Self::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            ),
            Self::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                "too many failed attempts; retry later",
            ),
            Self::Internal(cause) => {
                tracing::error!(error = %ErrorChain(cause), "OAuth request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error",
                )
            }
        };
        let body = OAuthError {
            error: error.to_owned(),
            error_description: Some(description.to_owned()),
        };
        let mut response = (status, Json(body)).into_response();
        match self {
            Self::InvalidClient => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="adieu""#),
                );
            }
            Self::RateLimited(retry_after) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            _ => {}
        }
        response
    }
}

/// The form of both endpoints. Unknown parameters are ignored (RFC 6749 §3.2); a repeated
/// one is an error.
#[derive(Default, utoipa::ToSchema)]
#[schema(examples(json!({"token": "adieu_at_…", "token_type_hint": "access_token"})))]
pub struct TokenForm {
    /// The token asked about: access or refresh.
    #[schema(required = true)]
    pub token: Option<String>,
    /// `access_token` or `refresh_token`; ignored, since a token's prefix says what it is.
    pub token_type_hint: Option<String>,
    /// The client's id (`client_secret_post`), with `client_secret`, instead of HTTP Basic.
    pub client_id: Option<String>,
    /// The client's secret (`client_secret_post`).
    #[schema(format = Password)]
    pub client_secret: Option<String>,
}

/// What both endpoints read of a request: its headers (taken over, where axum's `HeaderMap`
/// extractor would copy them), the peer's address and the body.
struct FormRequest {
    headers: HeaderMap,
    peer: Option<SocketAddr>,
    body: Result<Bytes, BytesRejection>,
}

impl FromRequest<AppState> for FormRequest {
    type Rejection = Infallible;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Infallible> {
        let (mut parts, body) = request.into_parts();
        let headers = std::mem::take(&mut parts.headers);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr);
        // The body limit travels in the extensions, which stay with the body.
        let body = Bytes::from_request(Request::from_parts(parts, body), state).await;
        Ok(Self {
            headers,
            peer,
            body,
        })
    }
}

/// A body that could not be read, in RFC 6749's error form (axum's own answer is plain text).
fn body_failure(rejection: &BytesRejection) -> Failure {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Failure::TooLarge
    } else {
        Failure::InvalidRequest("the request body could not be read")
    }
}

/// The token and the client secret are credentials: `Debug` names only what was sent.
impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "[redacted]");
        f.debug_struct("TokenForm")
            .field("token", &redacted(&self.token))
            .field("token_type_hint", &self.token_type_hint)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .finish()
    }
}

pub(crate) fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<TokenForm, Failure> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(Failure::InvalidRequest(
            "expected a body of Content-Type application/x-www-form-urlencoded",
        ));
    }
    let mut form = TokenForm::default();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[..0]),
        };
        let (name, value) = (form_decode(name), form_decode(value));
        let slot = match name.as_ref() {
            "token" => &mut form.token,
            "token_type_hint" => &mut form.token_type_hint,
            "client_id" => &mut form.client_id,
            "client_secret" => &mut form.client_secret,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Failure::InvalidRequest("a parameter is repeated"));
        }
        // A parameter sent without a value is treated as omitted (RFC 6749 §3.1).
        if !value.is_empty() {
            *slot = Some(value.into_owned());
        }
    }
    Ok(form)
}

/// One form-urlencoded name or value, decoded; without `%` or `+` (a token, a client id) it is
/// taken as it is, which spares the decoder on every introspection.
fn form_decode(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    if !raw.iter().any(|b| matches!(b, b'%' | b'+')) {
        return String::from_utf8_lossy(raw);
    }
    let mut spaced = raw.to_vec();
    for b in &mut spaced {
        if *b == b'+' {
            *b = b' ';
        }
    }
    std::borrow::Cow::Owned(
        percent_encoding::percent_decode(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The client's credentials, from exactly one method: HTTP Basic (its two parts
/// form-urlencoded, RFC 6749 §2.3.1) or the form's `client_id` and `client_secret`.
pub(crate) fn credentials(
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Option<(String, String)>, Failure> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| Failure::InvalidClient)?;
            let (scheme, encoded) = value.split_once(' ').ok_or(Failure::InvalidClient)?;
            if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 1024 {
                return Err(Failure::InvalidClient);
            }
            let decoded = STANDARD
                .decode(encoded.trim())
                .map_err(|_| Failure::InvalidClient)?;
            let decoded = String::from_utf8(decoded).map_err(|_| Failure::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(Failure::InvalidClient)?;
            let unescape = |part: &str| form_decode(part.as_bytes()).into_owned();
            Some((unescape(id), unescape(secret)))
        }
    };
    let posted = match (&form.client_id, &form.client_secret) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        (None, None) => None,
        _ => return Err(Failure::InvalidClient),
    };
    match (basic, posted) {
        (Some(_), Some(_)) => Err(Failure::InvalidRequest(
            "use one client authentication method, not two",
        )),
        (basic, posted) => Ok(basic.or(posted)),
    }
}

/// RFC 7662 introspection, for resource servers.
#[utoipa::path(
    post, path = "/oauth2/introspect", tag = "oauth",
    description = "Whether a token is live now, and whose. Needs a client's credentials: \
        HTTP Basic (`client_secret_basic`) or `client_id` and `client_secret` in the form \
        (`client_secret_post`), exactly one of them. Anything but a live access or refresh \
        token is `{\"active\": false}` and nothing more. Once a logout has answered, every \
        node says inactive.",
    security(("client_basic" = []), ()),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "What the token is.", body = IntrospectionResponse),
        (status = 400, response = crate::openapi::OAuthBadRequest),
        (status = 401, response = crate::openapi::OAuthInvalidClient),
        (status = 413, response = crate::openapi::OAuthPayloadTooLarge),
        (status = 429, response = crate::openapi::OAuthRateLimited),
    ),
)]
async fn introspect(
    State(state): State<AppState>,
    request: FormRequest,
) -> Result<Json<IntrospectionResponse>, Failure> {
    let body = request.body.map_err(|rejection| body_failure(&rejection))?;
    let form = parse_form(&request.headers, &body)?;
    let (id, secret) = credentials(&request.headers, &form)?.ok_or(Failure::InvalidClient)?;
    state
        .sessions
        .authenticate_client(&id, &secret, || {
            client_info(&state, request.peer, &request.headers)
        })
        .await?;
    let token = form
        .token
        .ok_or(Failure::InvalidRequest("the token parameter is missing"))?;
    let Some(record) = state.sessions.introspect(&token).await? else {
        return Ok(Json(inactive()));
    };
    let token_type = match record.kind {
        TokenKind::Access => "access_token",
        TokenKind::Refresh => "refresh_token",
        TokenKind::Cookie => return Ok(Json(inactive())),
    };
    let policy = state.sessions.policy();
    // The token's own expiry, or the session's deadline if that comes first.
    let exp = record.expires_at.min(record.session.expires_at(policy));
    Ok(Json(IntrospectionResponse {
        active: true,
        token_type: Some(token_type.to_owned()),
        sub: Some(record.session.user_id.clone()),
        username: Some(record.session.username.clone()),
        sid: Some(record.session.id.clone()),
        iat: Some(record.issued_at.div_euclid(1000)),
        exp: Some(exp.div_euclid(1000)),
        iss: Some(state.issuer.clone()),
    }))
}

fn inactive() -> IntrospectionResponse {
    IntrospectionResponse {
        active: false,
        token_type: None,
        sub: None,
        username: None,
        sid: None,
        iat: None,
        exp: None,
        iss: None,
    }
}

/// RFC 7009 revocation.
#[utoipa::path(
    post, path = "/oauth2/revoke", tag = "oauth",
    description = "Ends the session of the token (access or refresh), and answers 200 \
        whatever the token once no node accepts the session. Client credentials are \
        optional, since holding a token is enough to end it; wrong ones are refused.",
    security(("client_basic" = []), ()),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "No node accepts the token's session, if it had one."),
        (status = 400, response = crate::openapi::OAuthBadRequest),
        (status = 401, response = crate::openapi::OAuthInvalidClient),
        (status = 413, response = crate::openapi::OAuthPayloadTooLarge),
        (status = 429, response = crate::openapi::OAuthRateLimited),
    ),
)]
async fn revoke(
    State(state): State<AppState>,
    request: FormRequest,
) -> Result<StatusCode, Failure> {
    let client = client_info(&state, request.peer, &request.headers);
    let body = request.body.map_err(|rejection| body_failure(&rejection))?;
    let form = parse_form(&request.headers, &body)?;
    // Holding a token is enough to end it; credentials, when given, must be right.
    if let Some((id, secret)) = credentials(&request.headers, &form)? {
        state
            .sessions
            .authenticate_client(&id, &secret, || client.clone())
            .await?;
    }
    let token = form
        .token
        .ok_or(Failure::InvalidRequest("the token parameter is missing"))?;
    // Any hint is ignored: the token's prefix says what it is, and every kind is searched.
    state.sessions.revoke_token(&token, &client).await?;
    Ok(StatusCode::OK)
}

/// RFC 8414 authorization server metadata.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "issuer": "https://auth.example.com",
    "introspection_endpoint": "https://auth.example.com/oauth2/introspect",
    "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    "revocation_endpoint": "https://auth.example.com/oauth2/revoke",
    "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    "response_types_supported": [],
    "grant_types_supported": [],
    "service_documentation": "https://auth.example.com/openapi.json"
})))]
struct Metadata {
    /// Adieu's public URL (or its own address).
    issuer: String,
    /// Where `POST /oauth2/introspect` is.
    introspection_endpoint: String,
    /// How clients authenticate there.
    introspection_endpoint_auth_methods_supported: &'static [&'static str],
    /// Where `POST /oauth2/revoke` is.
    revocation_endpoint: String,
    /// How clients authenticate there (`none`: not at all).
    revocation_endpoint_auth_methods_supported: &'static [&'static str],
    /// None: Adieu issues tokens through its own login, not through OAuth flows.
    response_types_supported: &'static [&'static str],
    /// None, likewise.
    grant_types_supported: &'static [&'static str],
    /// This description.
    service_documentation: String,
}

/// RFC 8414 metadata.
#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", tag = "oauth", security(()),
    responses((status = 200, description = "Where the endpoints are.", body = Metadata)),
)]
async fn metadata(State(state): State<AppState>) -> Json<Metadata> {
    let issuer = state.issuer.clone();
    Json(Metadata {
        introspection_endpoint: format!("{issuer}/oauth2/introspect"),
        introspection_endpoint_auth_methods_supported: &[
            "client_secret_basic",
            "client_secret_post",
        ],
        revocation_endpoint: format!("{issuer}/oauth2/revoke"),
        revocation_endpoint_auth_methods_supported: &[
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        // Adieu issues tokens through its own login, not through OAuth flows.
        response_types_supported: &[],
        grant_types_supported: &[],
        service_documentation: format!("{issuer}/openapi.json"),
        issuer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        h
    }

    #[test]
    fn a_form_never_prints_its_token_or_secret() {
        let form = parse_form(
            &form_headers(),
            b"token=adieu_at_secret1&client_id=rs&client_secret=adieu_cs_secret2",
        )
        .unwrap();
        let debug = format!("{form:?}");
        assert!(
            !debug.contains("secret1") && !debug.contains("secret2"),
            "{debug}"
        );
        assert!(debug.contains("rs"), "{debug}");
    }

    #[test]
    fn forms_ignore_unknown_parameters_and_refuse_repeated_ones() {
        let h = form_headers();
        let form = parse_form(&h, b"token=a%2Bb&extra=1&token_type_hint=").unwrap();
        assert_eq!(form.token.as_deref(), Some("a+b"));
        assert_eq!(form.token_type_hint, None, "empty means omitted");
        assert!(matches!(
            parse_form(&h, b"token=a&token=b"),
            Err(Failure::InvalidRequest(_))
        ));
        assert!(matches!(
            parse_form(&HeaderMap::new(), b"token=a"),
            Err(Failure::InvalidRequest(_))
        ));
    }

    #[test]
    fn basic_credentials_are_form_urlencoded_and_one_method_only() {
        let mut h = form_headers();
        // "my id" and "s:cr%t" encoded, then base64.
        let encoded = STANDARD.encode("my+id:s%3Acr%25t");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        let none = TokenForm::default();
        assert_eq!(
            credentials(&h, &none).unwrap(),
            Some(("my id".to_owned(), "s:cr%t".to_owned()))
        );
        let posted = TokenForm {
            client_id: Some("a".into()),
            client_secret: Some("b".into()),
            ..TokenForm::default()
        };
        assert!(matches!(
            credentials(&h, &posted),
            Err(Failure::InvalidRequest(_))
        ));
        assert_eq!(
            credentials(&form_headers(), &posted).unwrap(),
            Some(("a".to_owned(), "b".to_owned()))
        );
        let half = TokenForm {
            client_id: Some("a".into()),
            ..TokenForm::default()
        };
        assert!(matches!(
            credentials(&form_headers(), &half),
            Err(Failure::InvalidClient)
        ));
        let mut bearer = form_headers();
        bearer.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(matches!(
            credentials(&bearer, &none),
            Err(Failure::InvalidClient)
        ));
    }
}
