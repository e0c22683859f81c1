//! Request extractors that turn bad input into clear 4xx answers in our error format.

use std::marker::PhantomData;
use std::net::SocketAddr;

use adieu_service::ClientInfo;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::AppState;
use crate::error::Error;

/// Longest `User-Agent` kept.
const MAX_USER_AGENT: usize = 256;
/// Longest Bearer credential even looked at; real tokens are far shorter.
const MAX_BEARER: usize = 256;

/// A JSON body whose rejections are answered in our error format.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<Object<T>>::from_request(req, state).await {
            Ok(Json(Object(value))) => Ok(Self(value)),
            Err(rejection) => Err(json_error(&rejection)),
        }
    }
}

/// A request body as the API reads it: a JSON object, and nothing else. serde's derive would
/// also read a struct from an array of its fields in order (`["alice", "pw"]`), which is not
/// the documented body.
pub(crate) fn read_body<T: DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    serde_json::from_slice::<Object<T>>(body).map(|Object(value)| value)
}

/// `T`, read only from a JSON object (a wrong shape is a data error: 422).
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Members<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, members: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(members))
            }
        }

        deserializer.deserialize_map(Members(PhantomData)).map(Self)
    }
}

fn json_error(rejection: &JsonRejection) -> Error {
    // axum already tells these apart: 400 syntax, 422 wrong shape, 413 too large, 415 not JSON.
    let status = rejection.status();
    let message = match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "expected a JSON body with Content-Type: application/json"
        }
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => "request body is too large",
        // serde's own text quotes the offending value or field name, which the client
        // chose: a fixed text echoes nothing back.
        JsonRejection::JsonDataError(_) => BODY_SHAPE,
        _ => BODY_SYNTAX,
    };
    Error::InvalidRequest {
        status,
        message: message.to_owned(),
    }
}

/// The message for a body that is JSON of the wrong shape.
pub(crate) const BODY_SHAPE: &str =
    "the JSON body must be an object with exactly the documented fields, each of its type";
/// The message for a body that is not JSON.
pub(crate) const BODY_SYNTAX: &str = "the body is not valid JSON";

/// The Bearer credential of a request, if one was sent.
///
/// A header that is present but not a well-shaped `Bearer` credential is refused here; one
/// that is well-shaped is checked by the service.
pub(crate) struct Bearer(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        bearer_token(&parts.headers).map(Self)
    }
}

/// [`bearer_str`], copied out of the headers.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, Error> {
    bearer_str(headers).map(|token| token.map(str::to_owned))
}

/// The Bearer credential in `Authorization`, borrowed from the headers: `None` without the
/// header, an error for a header that is not `Bearer <token>` of sane length.
pub(crate) fn bearer_str(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || Error::InvalidToken { presented: true };
    if value.len() > MAX_BEARER + 7 {
        return Err(malformed());
    }
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(malformed());
    }
    Ok(Some(token.trim()))
}

/// Who is calling, read from the connection and the `User-Agent` header. A newtype, because
/// [`ClientInfo`] belongs to the service crate, which knows nothing of HTTP.
pub(crate) struct Client(pub(crate) ClientInfo);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr);
        Ok(Self(client_info(state, peer, &parts.headers)))
    }
}

/// Who is calling: the peer, or the client named by X-Forwarded-For behind a trusted proxy,
/// and the `User-Agent`. The address is canonical (an IPv4 client of a dual-stack listener
/// arrives as `::ffff:a.b.c.d`), for rate limits, sessions and the audit log alike.
pub(crate) fn client_info(
    state: &AppState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> ClientInfo {
    let ip = peer.map(|addr| {
        state
            .config
            .trusted_proxies
            .client_ip(addr.ip(), headers)
            .to_string()
    });
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
    ClientInfo { ip, user_agent }
}
