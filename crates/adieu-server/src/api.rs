//! The JSON API under `/api`.

use adieu_core::{Session, TokenKind};
use adieu_service::{ApiTokens, LiveSession};
use adieu_store::AuditRecord;
use adieu_types::{
    ActivityEvent, ActivityResponse, Credentials, DeleteAccountRequest, ErrorBody,
    LogoutAllResponse, LogoutRequest, LogoutResponse, MeResponse, PasswordChangeRequest,
    PasswordChangeResponse, RefreshRequest, RegisterResponse, SessionInfo, SessionsResponse,
    TokenResponse, UserActionResponse,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use time::OffsetDateTime;

use crate::AppState;
use crate::error::{Error, Result};
use crate::extract::{ApiJson, BODY_SHAPE, BODY_SYNTAX, Bearer, Client, bearer_str};

/// Routes of the JSON API.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/register", post(register))
        .route("/api/login", post(login))
        .route("/api/me", get(me))
        .route("/api/logout", post(logout))
        .route("/api/logout/all", post(logout_all))
        .route("/api/sessions", get(sessions))
        .route("/api/sessions/{id}", delete(revoke_session))
        .route("/api/token/refresh", post(refresh))
        .route("/api/password", post(change_password))
        .route("/api/account", delete(delete_account))
        .route("/api/activity", get(activity))
}

/// The live session behind a valid Bearer access token.
pub(crate) struct CurrentSession(pub(crate) LiveSession);

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer_str(&parts.headers)?.ok_or(Error::InvalidToken { presented: false })?;
        let session = state
            .sessions
            .authenticate(TokenKind::Access, token)
            .await?;
        Ok(Self(session))
    }
}

/// Creates an account. The name is 1 to 64 of `[A-Za-z0-9._-]`, the password 8 to 1024
/// characters.
#[utoipa::path(
    post, path = "/api/register", tag = "account", security(()),
    request_body = Credentials,
    responses(
        (status = 201, description = "The account exists; log in to get tokens.", body = RegisterResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 409, description = "That name is taken.", body = ErrorBody,
         example = json!({"error": "username_taken", "message": "that username is taken"})),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::UnprocessableBody),
        (status = 429, response = crate::openapi::RateLimited),
    ),
)]
async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<RegisterResponse>)> {
    let user = state
        .sessions
        .register(&body.username, &body.password, &client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            user_id: user.id,
            username: user.username,
        }),
    ))
}

fn token_response(tokens: ApiTokens) -> Json<TokenResponse> {
    Json(TokenResponse {
        access_token: tokens.access.secret,
        refresh_token: tokens.refresh.secret,
        token_type: "Bearer".into(),
        expires_in: tokens.expires_in,
        session_id: tokens.session.id,
    })
}

/// Starts a session: an access token and the refresh token that buys the next pair.
#[utoipa::path(
    post, path = "/api/login", tag = "account", security(()),
    request_body = Credentials,
    responses(
        (status = 200, description = "A new session.", body = TokenResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, description = "Wrong username or password (the same answer for both).",
         body = ErrorBody,
         example = json!({"error": "invalid_credentials", "message": "wrong username or password"})),
        (status = 403, description = "The right password, but an administrator has disabled \
         the account.", body = ErrorBody,
         example = json!({"error": "account_disabled", "message": "this account is disabled"})),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::UnprocessableBody),
        (status = 429, response = crate::openapi::RateLimited),
    ),
)]
async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<TokenResponse>> {
    let tokens = state
        .sessions
        .login_api(&body.username, &body.password, &client)
        .await?;
    Ok(token_response(tokens))
}

/// Who the access token belongs to.
#[utoipa::path(
    get, path = "/api/me", tag = "account", security(("access_token" = [])),
    responses(
        (status = 200, description = "The caller.", body = MeResponse),
        (status = 401, response = crate::openapi::InvalidToken),
    ),
)]
async fn me(CurrentSession(session): CurrentSession) -> Json<Me> {
    Json(Me(session))
}

/// A [`MeResponse`], written from the session the token check found (the cache's own copy)
/// without copying its strings first.
struct Me(LiveSession);

impl serde::Serialize for Me {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut me = s.serialize_struct("MeResponse", 3)?;
        me.serialize_field("user_id", &self.0.user_id)?;
        me.serialize_field("username", &self.0.username)?;
        me.serialize_field("session_id", &self.0.id)?;
        me.end()
    }
}

fn logged_out() -> Json<LogoutResponse> {
    Json(LogoutResponse {
        status: "logged_out".into(),
    })
}

/// Ends the session named by the Bearer access token (expired or not) or by a refresh token
/// in the body. Answers 200 for any well-formed credential, live or not.
#[utoipa::path(
    post, path = "/api/logout", tag = "sessions",
    description = "Ends the session of the Bearer access token (expired or not) or of the \
        refresh token in the body, and answers once no node accepts its tokens. Any \
        well-formed credential gets 200, live or not: logout is idempotent and tells nothing \
        about the token. The body is optional.",
    security(("access_token" = []), ()),
    request_body(content = Option<LogoutRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "The session is over, if there was one.", body = LogoutResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::UnprocessableBody),
    ),
)]
async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    Bearer(bearer): Bearer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LogoutResponse>> {
    let body = body.map_err(|rejection| body_error(&rejection))?;
    let refresh = logout_body(&headers, &body)?.refresh_token;
    if bearer.is_none() && refresh.is_none() {
        return Err(Error::InvalidToken { presented: false });
    }
    if let Some(access) = bearer {
        state
            .sessions
            .logout(TokenKind::Access, &access, &client)
            .await?;
    }
    if let Some(refresh) = refresh {
        state
            .sessions
            .logout(TokenKind::Refresh, refresh.expose(), &client)
            .await?;
    }
    Ok(logged_out())
}

/// A body that could not be read, in our error format (axum's own answer is plain text).
fn body_error(rejection: &BytesRejection) -> Error {
    let status = rejection.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "request body is too large"
    } else {
        "the request body could not be read"
    };
    Error::InvalidRequest {
        status,
        message: message.into(),
    }
}

/// The optional JSON body of a logout: empty is allowed, anything else must be our JSON.
fn logout_body(headers: &HeaderMap, body: &Bytes) -> Result<LogoutRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(LogoutRequest::default());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Err(Error::InvalidRequest {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "expected a JSON body with Content-Type: application/json".into(),
        });
    }
    crate::extract::read_body(body).map_err(|e| {
        if e.is_data() {
            Error::InvalidRequest {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: BODY_SHAPE.into(),
            }
        } else {
            Error::bad_request(BODY_SYNTAX)
        }
    })
}

/// Ends every session of the caller, this one included.
#[utoipa::path(
    post, path = "/api/logout/all", tag = "sessions", security(("access_token" = [])),
    responses(
        (status = 200, description = "Every session of the user is over.", body = LogoutAllResponse),
        (status = 401, response = crate::openapi::InvalidToken),
    ),
)]
async fn logout_all(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentSession(session): CurrentSession,
) -> Result<Json<LogoutAllResponse>> {
    let revoked_sessions = state.sessions.logout_all(&session, &client).await?;
    Ok(Json(LogoutAllResponse {
        status: "logged_out".into(),
        revoked_sessions,
    }))
}

/// Milliseconds since the epoch as a timestamp.
pub(crate) fn timestamp(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The caller's live sessions, newest first.
#[utoipa::path(
    get, path = "/api/sessions", tag = "sessions", security(("access_token" = [])),
    responses(
        (status = 200, description = "The live sessions.", body = SessionsResponse),
        (status = 401, response = crate::openapi::InvalidToken),
    ),
)]
async fn sessions(
    State(state): State<AppState>,
    CurrentSession(current): CurrentSession,
) -> Result<Json<SessionsResponse>> {
    let policy = *state.sessions.policy();
    let sessions = state
        .sessions
        .sessions(&current.user_id)
        .await?
        .into_iter()
        .map(|s| session_info(s, &policy, Some(&current.id)))
        .collect();
    Ok(Json(SessionsResponse { sessions }))
}

/// A session as the API shows it; `current` names the caller's own, if any.
pub(crate) fn session_info(
    s: Session,
    policy: &adieu_core::Policy,
    current: Option<&str>,
) -> SessionInfo {
    SessionInfo {
        created_at: timestamp(s.created_at),
        last_active_at: timestamp(s.last_active_at),
        expires_at: timestamp(s.expires_at(policy)),
        current: current == Some(s.id.as_str()),
        id: s.id,
        user_agent: s.user_agent,
        ip: s.ip,
    }
}

/// Ends one of the caller's own sessions.
#[utoipa::path(
    delete, path = "/api/sessions/{id}", tag = "sessions", security(("access_token" = [])),
    params(("id" = String, Path, description = "A session id from `GET /api/sessions`.")),
    responses(
        (status = 204, description = "The session is over."),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
async fn revoke_session(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentSession(current): CurrentSession,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.sessions.revoke_own(&current, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Spends a refresh token for a new pair. A spent token presented again ends its session.
#[utoipa::path(
    post, path = "/api/token/refresh", tag = "sessions", security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "The next pair, in the same session.", body = TokenResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::UnprocessableBody),
    ),
)]
async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenResponse>> {
    let tokens = state
        .sessions
        .refresh(body.refresh_token.expose(), &client)
        .await?;
    Ok(token_response(tokens))
}

/// Changes the password and ends every other session of the user.
#[utoipa::path(
    post, path = "/api/password", tag = "account", security(("access_token" = [])),
    request_body = PasswordChangeRequest,
    responses(
        (status = 200, description = "Changed; the other sessions are over.", body = PasswordChangeResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, description = "The access token is refused (`invalid_token`, with \
         `WWW-Authenticate`), or the current password is wrong (`invalid_credentials`).",
         body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "With `invalid_token` only."))),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::UnprocessableBody),
        (status = 429, response = crate::openapi::RateLimited),
    ),
)]
async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentSession(current): CurrentSession,
    ApiJson(body): ApiJson<PasswordChangeRequest>,
) -> Result<Json<PasswordChangeResponse>> {
    let revoked_sessions = state
        .sessions
        .change_password(
            &current,
            &body.current_password,
            &body.new_password,
            &client,
        )
        .await?;
    Ok(Json(PasswordChangeResponse {
        status: "password_changed".into(),
        revoked_sessions,
    }))
}

/// Deletes the caller's account, its sessions and its history, confirmed by its password.
#[utoipa::path(
    delete, path = "/api/account", tag = "account", security(("access_token" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 200, description = "The account is gone.", body = UserActionResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, description = "The access token is refused (`invalid_token`, with \
         `WWW-Authenticate`), or the password is wrong (`invalid_credentials`).",
         body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "With `invalid_token` only."))),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::UnprocessableBody),
        (status = 429, response = crate::openapi::RateLimited),
    ),
)]
async fn delete_account(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentSession(current): CurrentSession,
    ApiJson(body): ApiJson<DeleteAccountRequest>,
) -> Result<Json<UserActionResponse>> {
    let revoked_sessions = state
        .sessions
        .delete_account(&current, &body.password, &client)
        .await?;
    Ok(Json(UserActionResponse {
        status: "deleted".into(),
        revoked_sessions,
    }))
}

/// Events shown to a user: at most this many, newest first.
pub(crate) const ACTIVITY_LIMIT: u32 = 100;

/// The caller's own account events, newest first (at most 100).
#[utoipa::path(
    get, path = "/api/activity", tag = "account", security(("access_token" = [])),
    responses(
        (status = 200, description = "The events.", body = ActivityResponse),
        (status = 401, response = crate::openapi::InvalidToken),
    ),
)]
async fn activity(
    State(state): State<AppState>,
    CurrentSession(current): CurrentSession,
) -> Result<Json<ActivityResponse>> {
    let events = state
        .sessions
        .activity(&current, ACTIVITY_LIMIT)
        .await?
        .into_iter()
        .map(activity_event)
        .collect();
    Ok(Json(ActivityResponse { events }))
}

/// An audit event as its user sees it: what happened in words, and never the admin key's
/// name (only that an administrator acted).
pub(crate) fn activity_event(record: AuditRecord) -> ActivityEvent {
    ActivityEvent {
        at: timestamp(record.at),
        description: describe(&record.kind).to_owned(),
        event: record.kind,
        session_id: record.session_id,
        user_agent: record.user_agent,
        ip: record.ip,
        by_administrator: record.actor.is_some(),
    }
}

/// What an event means, for people.
pub(crate) fn describe(kind: &str) -> &'static str {
    match kind {
        "register" => "Account created",
        "login" => "Signed in",
        "login_failed" => "Failed sign-in attempt",
        "logout" => "Signed out",
        "logout_all" => "Signed out everywhere",
        "session_revoked" => "A session was ended by you",
        "refresh_reuse_detected" => {
            "A session was ended: its refresh token was used twice (possible theft)"
        }
        "password_changed" => "Password changed; other sessions were ended",
        "session_limit" => "Oldest session ended: too many sessions",
        "session_expired" => "A session ended after a timeout",
        "admin_revoked" => "Sessions ended by an administrator",
        "user_disabled" => "Account disabled by an administrator",
        "user_enabled" => "Account enabled again by an administrator",
        _ => "Other account event",
    }
}
