//! The JSON API under `/api`.

use adieu_core::{Session, TokenKind};
use adieu_service::ApiTokens;
use adieu_types::{
    Credentials, LogoutAllResponse, LogoutRequest, LogoutResponse, MeResponse,
    PasswordChangeRequest, PasswordChangeResponse, RefreshRequest, RegisterResponse, SessionInfo,
    SessionsResponse, TokenResponse,
};
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use time::OffsetDateTime;

use crate::AppState;
use crate::error::{Error, Result};
use crate::extract::{ApiJson, BODY_SHAPE, BODY_SYNTAX, Bearer, Client};

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
}

/// The live session behind a valid Bearer access token.
pub(crate) struct CurrentSession(pub(crate) Session);

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let Bearer(token) = Bearer::from_request_parts(parts, state).await?;
        let token = token.ok_or(Error::InvalidToken { presented: false })?;
        let session = state
            .sessions
            .authenticate(TokenKind::Access, &token)
            .await?;
        Ok(Self(session))
    }
}

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

async fn me(CurrentSession(session): CurrentSession) -> Json<MeResponse> {
    Json(MeResponse {
        user_id: session.user_id,
        username: session.username,
        session_id: session.id,
    })
}

fn logged_out() -> Json<LogoutResponse> {
    Json(LogoutResponse {
        status: "logged_out".into(),
    })
}

/// Ends the session named by the Bearer access token (expired or not) or by a refresh token
/// in the body. Answers 200 for any well-formed credential, live or not.
async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    Bearer(bearer): Bearer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<LogoutResponse>> {
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
    serde_json::from_slice(body).map_err(|e| {
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
        .map(|s| SessionInfo {
            created_at: timestamp(s.created_at),
            last_active_at: timestamp(s.last_active_at),
            expires_at: timestamp(s.expires_at(&policy)),
            current: s.id == current.id,
            id: s.id,
            user_agent: s.user_agent,
            ip: s.ip,
        })
        .collect();
    Ok(Json(SessionsResponse { sessions }))
}

async fn revoke_session(
    State(state): State<AppState>,
    Client(client): Client,
    CurrentSession(current): CurrentSession,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.sessions.revoke_own(&current, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
