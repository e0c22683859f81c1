//! The admin API, on the operators' listener only (`--admin-listen`): every call carries an
//! admin key (`Authorization: Bearer adieu_ak_…`), and every action is in the audit log under
//! the key's name.
//!
//! The calls that end sessions (logout, disable, delete, a session's revocation) answer only
//! once no node accepts those sessions, as a logout does.

use adieu_service::{Admin, UserDetail};
use adieu_store::{AuditKind, AuditQuery, UserSummary};
use adieu_types::{
    AdminUser, AdminUserDetail, AdminUsersResponse, AuditEventInfo, AuditResponse, ClientInfo,
    ClientsResponse, NewClientRequest, NewClientResponse, UserActionResponse,
};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::AppState;
use crate::api::{session_info, timestamp};
use crate::error::{Error, Result};
use crate::extract::{ApiJson, Bearer, Client};

/// Routes of the admin API.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", get(show_user).delete(delete_user))
        .route("/admin/users/{id}/logout", post(logout_user))
        .route("/admin/users/{id}/disable", post(disable_user))
        .route("/admin/users/{id}/enable", post(enable_user))
        .route("/admin/sessions/{id}", delete(revoke_session))
        .route("/admin/audit", get(audit))
        .route("/admin/clients", get(list_clients).post(create_client))
        .route("/admin/clients/{id}", delete(delete_client))
}

/// The administrator behind a valid admin key.
struct AdminKey(Admin);

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let Ok(Client(client)) = Client::from_request_parts(parts, state).await;
        // A malformed header counts as a failed attempt like a wrong key.
        let presented = Bearer::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|Bearer(token)| token);
        let admin = state.sessions.admin(presented.as_deref(), &client).await?;
        Ok(Self(admin))
    }
}

/// Query parameters whose rejections are answered in our error format, with a fixed text
/// (serde's would echo what the client sent).
struct ApiQuery<T>(T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|_: QueryRejection| {
                Error::bad_request(
                    "the query parameters are not the documented ones, each of its type",
                )
            })
    }
}

/// The users shown by one call unless `limit` says otherwise.
const DEFAULT_PAGE: u32 = 50;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UsersQuery {
    /// Only names that contain this.
    #[serde(default)]
    query: String,
    /// Users per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next` of the previous page.
    after: Option<String>,
}

fn admin_user(u: UserSummary) -> AdminUser {
    AdminUser {
        created_at: timestamp(u.created_at),
        disabled: u.disabled_at.is_some(),
        active_sessions: u.active_sessions,
        id: u.id,
        username: u.username,
    }
}

/// Users whose names contain `query`, a page at a time in name order.
#[utoipa::path(
    get, path = "/admin/users", tag = "users", security(("admin_key" = [])),
    params(UsersQuery),
    responses(
        (status = 200, description = "A page of users.", body = AdminUsersResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
    ),
)]
async fn list_users(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
    ApiQuery(q): ApiQuery<UsersQuery>,
) -> Result<Json<AdminUsersResponse>> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > adieu_service::MAX_PAGE {
        return Err(Error::bad_request(format!(
            "limit must be between 1 and {}",
            adieu_service::MAX_PAGE
        )));
    }
    let users = state
        .sessions
        .list_users(&q.query, q.after.as_deref(), limit)
        .await?;
    // A full page may have a successor; the last name is where it starts.
    let next = (users.len() == limit as usize)
        .then(|| users.last().map(|u| u.username.clone()))
        .flatten();
    Ok(Json(AdminUsersResponse {
        users: users.into_iter().map(admin_user).collect(),
        next,
    }))
}

/// A user and their live sessions.
#[utoipa::path(
    get, path = "/admin/users/{id}", tag = "users", security(("admin_key" = [])),
    params(("id" = String, Path, description = "A user id.")),
    responses(
        (status = 200, description = "The user.", body = AdminUserDetail),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
async fn show_user(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
    Path(id): Path<String>,
) -> Result<Json<AdminUserDetail>> {
    let UserDetail { user, sessions } = state.sessions.user_detail(&id).await?;
    let policy = *state.sessions.policy();
    Ok(Json(AdminUserDetail {
        user: admin_user(user),
        sessions: sessions
            .into_iter()
            .map(|s| session_info(s, &policy, None))
            .collect(),
    }))
}

fn action(status: &str, revoked_sessions: u64) -> Json<UserActionResponse> {
    Json(UserActionResponse {
        status: status.into(),
        revoked_sessions,
    })
}

/// Ends every session of a user.
#[utoipa::path(
    post, path = "/admin/users/{id}/logout", tag = "users", security(("admin_key" = [])),
    params(("id" = String, Path, description = "A user id.")),
    responses(
        (status = 200, description = "Every session of the user is over.", body = UserActionResponse),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
async fn logout_user(
    State(state): State<AppState>,
    AdminKey(admin): AdminKey,
    Path(id): Path<String>,
) -> Result<Json<UserActionResponse>> {
    let n = state.sessions.admin_logout_user(&admin, &id).await?;
    Ok(action("logged_out", n))
}

/// Disables an account: its sessions end and logins are refused until `enable`.
#[utoipa::path(
    post, path = "/admin/users/{id}/disable", tag = "users", security(("admin_key" = [])),
    params(("id" = String, Path, description = "A user id.")),
    responses(
        (status = 200, description = "Disabled, and every session of the user is over.", body = UserActionResponse),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
async fn disable_user(
    State(state): State<AppState>,
    AdminKey(admin): AdminKey,
    Path(id): Path<String>,
) -> Result<Json<UserActionResponse>> {
    let n = state.sessions.set_disabled(&admin, &id, true).await?;
    Ok(action("disabled", n))
}

/// Enables a disabled account again.
#[utoipa::path(
    post, path = "/admin/users/{id}/enable", tag = "users", security(("admin_key" = [])),
    params(("id" = String, Path, description = "A user id.")),
    responses(
        (status = 200, description = "Logins are accepted again.", body = UserActionResponse),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
async fn enable_user(
    State(state): State<AppState>,
    AdminKey(admin): AdminKey,
    Path(id): Path<String>,
) -> Result<Json<UserActionResponse>> {
    let n = state.sessions.set_disabled(&admin, &id, false).await?;
    Ok(action("enabled", n))
}

/// Deletes a user, their sessions and their history; one `user_deleted` event stays.
#[utoipa::path(
    delete, path = "/admin/users/{id}", tag = "users", security(("admin_key" = [])),
    params(("id" = String, Path, description = "A user id.")),
    responses(
        (status = 200, description = "The user is gone.", body = UserActionResponse),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
async fn delete_user(
    State(state): State<AppState>,
    AdminKey(admin): AdminKey,
    Path(id): Path<String>,
) -> Result<Json<UserActionResponse>> {
    let n = state.sessions.admin_delete_user(&admin, &id).await?;
    Ok(action("deleted", n))
}

/// Ends one session, whoever's it is.
#[utoipa::path(
    delete, path = "/admin/sessions/{id}", tag = "users", security(("admin_key" = [])),
    params(("id" = String, Path, description = "A session id.")),
    responses(
        (status = 204, description = "The session is over."),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
async fn revoke_session(
    State(state): State<AppState>,
    AdminKey(admin): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.sessions.admin_revoke_session(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Only this user's events.
    user_id: Option<String>,
    /// Only events of this kind (`login`, `logout`, `admin_revoked`, …).
    kind: Option<String>,
    /// Only events at or after this time, RFC 3339.
    #[param(example = "2026-03-01T00:00:00Z")]
    since: Option<String>,
    /// Events at most, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The audit log, newest first.
#[utoipa::path(
    get, path = "/admin/audit", tag = "audit", security(("admin_key" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "The events.", body = AuditResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
    ),
)]
async fn audit(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> Result<Json<AuditResponse>> {
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(name) => Some(AuditKind::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
            Error::bad_request(format!("kind must be one of: {}", known.join(", ")))
        })?),
    };
    let since = match q.since.as_deref() {
        None | Some("") => None,
        Some(text) => {
            let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
                Error::bad_request("since must be an RFC 3339 time, like 2026-12-01T00:00:00Z")
            })?;
            Some(i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
        }
    };
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > adieu_service::MAX_PAGE {
        return Err(Error::bad_request(format!(
            "limit must be between 1 and {}",
            adieu_service::MAX_PAGE
        )));
    }
    let events = state
        .sessions
        .audit_events(AuditQuery {
            user_id: q.user_id.filter(|id| !id.is_empty()),
            kind,
            since,
            limit,
        })
        .await?
        .into_iter()
        .map(|e| AuditEventInfo {
            id: e.id,
            at: timestamp(e.at),
            event: e.kind,
            user_id: e.user_id,
            session_id: e.session_id,
            ip: e.ip,
            user_agent: e.user_agent,
            actor: e.actor,
        })
        .collect();
    Ok(Json(AuditResponse { events }))
}

/// Creates an OAuth client; its secret is shown only in this answer.
#[utoipa::path(
    post, path = "/admin/clients", tag = "clients", security(("admin_key" = [])),
    request_body = NewClientRequest,
    responses(
        (status = 201, description = "The client and its secret.", body = NewClientResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 415, response = crate::openapi::UnsupportedMediaType),
        (status = 422, response = crate::openapi::UnprocessableBody),
    ),
)]
async fn create_client(
    State(state): State<AppState>,
    AdminKey(admin): AdminKey,
    ApiJson(body): ApiJson<NewClientRequest>,
) -> Result<(StatusCode, Json<NewClientResponse>)> {
    let created = state.sessions.create_client(&admin, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewClientResponse {
            client_id: created.client.id,
            client_secret: created.secret,
            name: created.client.name,
            created_at: timestamp(created.client.created_at),
        }),
    ))
}

/// Every OAuth client, oldest first.
#[utoipa::path(
    get, path = "/admin/clients", tag = "clients", security(("admin_key" = [])),
    responses(
        (status = 200, description = "The clients.", body = ClientsResponse),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
    ),
)]
async fn list_clients(
    State(state): State<AppState>,
    AdminKey(_admin): AdminKey,
) -> Result<Json<ClientsResponse>> {
    let clients = state
        .sessions
        .clients()
        .await?
        .into_iter()
        .map(|c| ClientInfo {
            client_id: c.id,
            name: c.name,
            created_at: timestamp(c.created_at),
        })
        .collect();
    Ok(Json(ClientsResponse { clients }))
}

/// Deletes an OAuth client: every node refuses it at once.
#[utoipa::path(
    delete, path = "/admin/clients/{id}", tag = "clients", security(("admin_key" = [])),
    params(("id" = String, Path, description = "A client id.")),
    responses(
        (status = 204, description = "The client is gone."),
        (status = 401, response = crate::openapi::InvalidToken),
        (status = 429, response = crate::openapi::RateLimited),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
async fn delete_client(
    State(state): State<AppState>,
    AdminKey(admin): AdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.sessions.delete_client(&admin, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
