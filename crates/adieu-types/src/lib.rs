//! Request and response bodies of the Adieu JSON API, shared by the server and the client SDK.
//!
//! Every credential travels in a [`Secret`], whose `Debug` and `Display` print `[redacted]`
//! and whose memory is wiped when it is dropped.

use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Prefix of every access token, so that secret scanners can recognise leaked ones.
pub const ACCESS_TOKEN_PREFIX: &str = "adieu_at_";
/// Prefix of every refresh token.
pub const REFRESH_TOKEN_PREFIX: &str = "adieu_rt_";
/// Prefix of every browser session cookie value.
pub const COOKIE_TOKEN_PREFIX: &str = "adieu_ck_";
/// Prefix of every admin API key.
pub const ADMIN_KEY_PREFIX: &str = "adieu_ak_";
/// Prefix of every OAuth client secret.
pub const CLIENT_SECRET_PREFIX: &str = "adieu_cs_";

/// A secret string: redacted in `Debug`/`Display`, zeroized on drop, compared in constant
/// time.
#[derive(Clone, Eq, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

/// Compares in time that depends only on the lengths, not on where the bytes differ, so that
/// comparing against a secret cannot leak it a byte at a time.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Secret {
    /// Wraps a string that must not be printed.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call this only where the value leaves the process on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// A secret is a string whose value the description never shows.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Secret {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
            .description(Some("A credential: a password, token or client secret."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `POST /api/register` and `POST /api/login` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(examples(json!({"username": "alice", "password": "correct horse battery staple"}))))]
pub struct Credentials {
    /// The account name: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._-]{1,64}$"))]
    pub username: String,
    /// The password in clear, as typed.
    pub password: Secret,
}

/// `POST /api/register` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"user_id": "7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b", "username": "alice"}))))]
pub struct RegisterResponse {
    /// The new user's id.
    pub user_id: String,
    /// The name as stored.
    pub username: String,
}

/// `POST /api/login` and `POST /api/token/refresh` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"access_token": "adieu_at_…", "refresh_token": "adieu_rt_…", "token_type": "Bearer", "expires_in": 900, "session_id": "c4e1b0f29a8d47e3b6a5d2c1f0e9d8c7"}))))]
pub struct TokenResponse {
    /// Bearer token for API calls.
    pub access_token: Secret,
    /// Single-use token that buys the next pair.
    pub refresh_token: Secret,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The session both tokens belong to.
    pub session_id: String,
}

/// `GET /api/me` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"user_id": "7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b", "username": "alice", "session_id": "c4e1b0f29a8d47e3b6a5d2c1f0e9d8c7"}))))]
pub struct MeResponse {
    /// The caller's user id.
    pub user_id: String,
    /// The caller's name.
    pub username: String,
    /// The session the access token belongs to.
    pub session_id: String,
}

/// `POST /api/logout` body; empty when the Bearer header carries the credential.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(examples(json!({"refresh_token": "adieu_rt_…"}))))]
pub struct LogoutRequest {
    /// A refresh token of the session to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
}

/// `POST /api/token/refresh` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(examples(json!({"refresh_token": "adieu_rt_…"}))))]
pub struct RefreshRequest {
    /// The refresh token to spend.
    pub refresh_token: Secret,
}

/// `POST /api/logout` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"status": "logged_out"}))))]
pub struct LogoutResponse {
    /// Always `logged_out`.
    pub status: String,
}

/// `POST /api/logout/all` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"status": "logged_out", "revoked_sessions": 3}))))]
pub struct LogoutAllResponse {
    /// Always `logged_out`.
    pub status: String,
    /// How many sessions ended, the caller's included.
    pub revoked_sessions: u64,
}

/// `POST /api/password` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(examples(json!({"current_password": "correct horse battery staple", "new_password": "tr0ub4dor and more"}))))]
pub struct PasswordChangeRequest {
    /// The password in use now.
    pub current_password: Secret,
    /// The password to use from now on.
    pub new_password: Secret,
}

/// `POST /api/password` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"status": "password_changed", "revoked_sessions": 2}))))]
pub struct PasswordChangeResponse {
    /// Always `password_changed`.
    pub status: String,
    /// How many other sessions ended.
    pub revoked_sessions: u64,
}

/// One active session in `GET /api/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"id": "c4e1b0f29a8d47e3b6a5d2c1f0e9d8c7", "created_at": "2026-03-01T09:30:00Z", "last_active_at": "2026-03-02T17:04:00Z", "expires_at": "2026-03-16T17:04:00Z", "user_agent": "curl/8.5.0", "ip": "192.0.2.10", "current": true}))))]
pub struct SessionInfo {
    /// Session id, as used by `DELETE /api/sessions/{id}`.
    pub id: String,
    /// When the session was created by a login.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last recorded activity (coalesced; see the idle-timeout docs).
    #[serde(with = "time::serde::rfc3339")]
    pub last_active_at: OffsetDateTime,
    /// When the session ends unless it is used again (idle) or at the latest (absolute).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// `User-Agent` seen at login.
    pub user_agent: Option<String>,
    /// Client IP seen at login.
    pub ip: Option<String>,
    /// Whether this is the session of the token making the call.
    pub current: bool,
}

/// `GET /api/sessions` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionsResponse {
    /// Active sessions, newest first.
    pub sessions: Vec<SessionInfo>,
}

/// `DELETE /api/account` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(examples(json!({"password": "correct horse battery staple"}))))]
pub struct DeleteAccountRequest {
    /// The account's password, to confirm.
    pub password: Secret,
}

/// The answer of every call that ends sessions of a user as a whole: `DELETE /api/account`
/// and the admin API's logout, disable, enable and delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"status": "deleted", "revoked_sessions": 2}))))]
pub struct UserActionResponse {
    /// `logged_out`, `disabled`, `enabled` or `deleted`.
    pub status: String,
    /// How many sessions ended.
    pub revoked_sessions: u64,
}

/// One event in `GET /api/activity`: what happened to the caller's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"at": "2026-03-02T17:04:00Z", "event": "login", "description": "Signed in", "session_id": "c4e1b0f29a8d47e3b6a5d2c1f0e9d8c7", "user_agent": "curl/8.5.0", "ip": "192.0.2.10", "by_administrator": false}))))]
pub struct ActivityEvent {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What: `login`, `login_failed`, `logout`, `logout_all`, `session_revoked`,
    /// `refresh_reuse_detected`, `password_changed`, `session_limit`, `session_expired`,
    /// `admin_revoked`, `user_disabled`, `user_enabled` or `register`.
    pub event: String,
    /// The same in words, for people.
    pub description: String,
    /// The session concerned, if any.
    pub session_id: Option<String>,
    /// The device (`User-Agent`) the request came from.
    pub user_agent: Option<String>,
    /// The IP the request came from.
    pub ip: Option<String>,
    /// Whether an administrator did it.
    pub by_administrator: bool,
}

/// `GET /api/activity` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityResponse {
    /// The caller's own events, newest first.
    pub events: Vec<ActivityEvent>,
}

/// One user in the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"id": "7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b", "username": "alice", "created_at": "2026-03-01T09:00:00Z", "disabled": false, "active_sessions": 2}))))]
pub struct AdminUser {
    /// Id, as the admin calls take it.
    pub id: String,
    /// Name.
    pub username: String,
    /// When the account was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Whether logins are refused.
    pub disabled: bool,
    /// Sessions neither ended nor past their deadlines.
    pub active_sessions: u64,
}

/// `GET /admin/users` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUsersResponse {
    /// A page of users, in name order.
    pub users: Vec<AdminUser>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next: Option<String>,
}

/// `GET /admin/users/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUserDetail {
    /// The user.
    pub user: AdminUser,
    /// Their active sessions, newest first (`current` is always false here).
    pub sessions: Vec<SessionInfo>,
}

/// One audit event in `GET /admin/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"id": 42, "at": "2026-03-02T17:04:00Z", "event": "admin_revoked", "user_id": "7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b", "session_id": null, "ip": null, "user_agent": null, "actor": "ops"}))))]
pub struct AuditEventInfo {
    /// Order of insertion.
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What (see [`ActivityEvent::event`], plus `user_deleted`).
    pub event: String,
    /// Whose account.
    pub user_id: Option<String>,
    /// Which session.
    pub session_id: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client `User-Agent`.
    pub user_agent: Option<String>,
    /// The admin key's name, when an administrator did it.
    pub actor: Option<String>,
}

/// `GET /admin/audit` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditResponse {
    /// Events, newest first.
    pub events: Vec<AuditEventInfo>,
}

/// `POST /admin/clients` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(examples(json!({"name": "billing"}))))]
pub struct NewClientRequest {
    /// What to call the client (the resource server), 1 to 100 printable characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
}

/// `POST /admin/clients` answer: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"client_id": "0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a", "client_secret": "adieu_cs_…", "name": "billing", "created_at": "2026-03-01T09:00:00Z"}))))]
pub struct NewClientResponse {
    /// The client's public id.
    pub client_id: String,
    /// Its secret, for HTTP Basic or the form fields of the OAuth endpoints.
    pub client_secret: Secret,
    /// Its name.
    pub name: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One client in `GET /admin/clients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"client_id": "0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a", "name": "billing", "created_at": "2026-03-01T09:00:00Z"}))))]
pub struct ClientInfo {
    /// The client's public id.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /admin/clients` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientsResponse {
    /// Every client, oldest first.
    pub clients: Vec<ClientInfo>,
}

/// `POST /oauth2/introspect` answer (RFC 7662 §2.2). An inactive token is `{"active":false}`
/// and nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"active": true, "token_type": "access_token", "sub": "7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b", "username": "alice", "sid": "c4e1b0f29a8d47e3b6a5d2c1f0e9d8c7", "iat": 1772443440, "exp": 1772444340, "iss": "https://auth.example.com"}))))]
pub struct IntrospectionResponse {
    /// Whether the token is live now.
    pub active: bool,
    /// `access_token` or `refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The user's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the token was issued, in seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// When it expires at the latest, in seconds since the epoch (its session may end
    /// sooner: ask again rather than trust this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Who says so: Adieu's public URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// The error body of the OAuth endpoints (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"error": "invalid_client", "error_description": "client authentication failed"}))))]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client` or `temporarily_unavailable`.
    pub error: String,
    /// What was wrong, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// Stable machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request was malformed or failed validation.
    InvalidRequest,
    /// Wrong username or password.
    InvalidCredentials,
    /// Missing, malformed, expired or revoked token.
    InvalidToken,
    /// Registration with a name already in use.
    UsernameTaken,
    /// No such resource for this caller.
    NotFound,
    /// The path exists, but not for this method.
    MethodNotAllowed,
    /// Too many attempts or the server is saturated; see `Retry-After`.
    RateLimited,
    /// The right password, but an administrator has disabled the account.
    AccountDisabled,
    /// OAuth client credentials that are missing, unknown or wrong.
    InvalidClient,
    /// Anything else; details are only in the server log.
    Internal,
}

impl ErrorCode {
    /// The wire name, e.g. `invalid_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken => "invalid_token",
            Self::UsernameTaken => "username_taken",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RateLimited => "rate_limited",
            Self::AccountDisabled => "account_disabled",
            Self::InvalidClient => "invalid_client",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(examples(json!({"error": "invalid_token", "message": "the access token is missing, invalid, expired or revoked"}))))]
pub struct ErrorBody {
    /// Stable code.
    pub error: ErrorCode,
    /// Human-readable text; never contains internals.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let creds = Credentials {
            username: "alice".into(),
            password: Secret::new("hunter22-secret"),
        };
        let debug = format!("{creds:?}");
        assert!(!debug.contains("hunter22"), "{debug}");
        assert!(debug.contains("[redacted]"));
        assert_eq!(Secret::new("x").to_string(), "[redacted]");
    }

    #[test]
    fn secrets_compare_by_value() {
        assert_eq!(Secret::new("adieu_rt_abc"), Secret::new("adieu_rt_abc"));
        assert_eq!(Secret::new(""), Secret::new(""));
        assert_ne!(Secret::new("adieu_rt_abc"), Secret::new("adieu_rt_abd"));
        assert_ne!(Secret::new("adieu_rt_abc"), Secret::new("bdieu_rt_abc"));
        assert_ne!(Secret::new("adieu_rt_abc"), Secret::new("adieu_rt_ab"));
        assert_ne!(Secret::new("adieu_rt_abc"), Secret::new(""));
    }

    #[test]
    fn error_codes_serialize_to_their_stable_names() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidCredentials,
            ErrorCode::InvalidToken,
            ErrorCode::UsernameTaken,
            ErrorCode::NotFound,
            ErrorCode::RateLimited,
            ErrorCode::AccountDisabled,
            ErrorCode::InvalidClient,
            ErrorCode::Internal,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err =
            serde_json::from_str::<Credentials>(r#"{"username":"a","password":"b","admin":true}"#);
        assert!(err.is_err());
    }
}
