//! Adieu's storage: the [`Store`] trait, its SQLite and PostgreSQL implementations, and
//! [`Storage`], the store with this node's token cache, which the service uses.
//!
//! Storage holds users (argon2id hashes only), sessions, the SHA-256 of every token and an
//! audit log. Every method that ends sessions is committed, and (with PostgreSQL) heard by
//! every caching node, before it returns.

mod backend;
mod cache;
mod cluster;
mod migrate;
mod postgres;
mod rows;
mod sql;
mod sqlite;
mod storage;
mod store;
#[cfg(feature = "test-support")]
pub mod test_support;

use std::sync::Arc;
use std::time::Duration;

use adieu_core::{Policy, Session, TokenHash, TokenKind, UnixMillis};
use async_trait::async_trait;

pub use cache::{CacheStatus, TokenCache};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use storage::Storage;

/// The cluster's wire format, for the fuzz targets in `fuzz/`: the parser is private to the
/// cluster, and a fuzz target, a crate of its own, reaches only public items. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::cluster::message::{IDS_PER_MESSAGE, MAX_PAYLOAD, Message, ParseError};
}

/// Storage errors. Constraint violations that callers act on have their own variant.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A user with that name (in any case) exists already.
    #[error("username is taken")]
    UsernameTaken,
    /// An admin key with that name exists already (revoked keys keep their names).
    #[error("an admin key with that name exists")]
    KeyNameTaken,
    /// The URL names no backend we know.
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// Stored data that does not parse (a bug or a tampered database).
    #[error("corrupt row: {0}")]
    Corrupt(&'static str),
    /// Anything the database driver reports.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A background task running a storage call failed.
    #[error("storage task failed: {0}")]
    Task(String),
    /// The options are out of range.
    #[error("invalid storage options: {0}")]
    Options(String),
}

/// Shorthand for storage results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A registered account.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Random id.
    pub id: String,
    /// Name as registered.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// When the account was created.
    pub created_at: UnixMillis,
    /// Set while an administrator has disabled the account.
    pub disabled_at: Option<UnixMillis>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish()
    }
}

/// A token to store: its hash, kind and expiry.
#[derive(Debug, Clone, Copy)]
pub struct NewToken {
    /// SHA-256 of the token.
    pub hash: TokenHash,
    /// What it is for.
    pub kind: TokenKind,
    /// When it stops working on its own.
    pub expires_at: UnixMillis,
}

/// What a token hash resolves to.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// The token's kind.
    pub kind: TokenKind,
    /// The token's own expiry (the session may end sooner).
    pub expires_at: UnixMillis,
    /// When the token was issued.
    pub issued_at: UnixMillis,
    /// For refresh tokens: when it was exchanged.
    pub spent_at: Option<UnixMillis>,
    /// The session it belongs to, with its owner's name.
    pub session: Session,
}

/// Who did what, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    /// Client IP.
    pub ip: Option<String>,
    /// Client `User-Agent`.
    pub user_agent: Option<String>,
    /// The admin key (its name) an administrator acted with.
    pub actor: Option<String>,
}

/// The audit log's event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// A user was created.
    Register,
    /// A session was created.
    Login,
    /// A login attempt failed.
    LoginFailed,
    /// A session was ended by its own logout.
    Logout,
    /// Every session of a user was ended.
    LogoutAll,
    /// One session was ended from another (or by the user's session list).
    SessionRevoked,
    /// A spent refresh token came back: the session was ended.
    RefreshReuseDetected,
    /// The password changed and other sessions ended.
    PasswordChanged,
    /// A login went past the cap of live sessions per user and ended the oldest.
    SessionLimit,
    /// An administrator ended sessions of the user.
    AdminRevoked,
    /// An administrator disabled the account, ending its sessions.
    UserDisabled,
    /// An administrator enabled the account again.
    UserEnabled,
    /// The account was deleted (by its owner or an administrator), its sessions first.
    UserDeleted,
    /// A session reached its idle or absolute timeout (recorded when the clean-up finds it).
    SessionExpired,
    /// An administrator created an OAuth client.
    ClientCreated,
    /// An administrator deleted an OAuth client.
    ClientDeleted,
}

impl AuditKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::SessionRevoked => "session_revoked",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::PasswordChanged => "password_changed",
            Self::SessionLimit => "session_limit",
            Self::AdminRevoked => "admin_revoked",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::UserDeleted => "user_deleted",
            Self::SessionExpired => "session_expired",
            Self::ClientCreated => "client_created",
            Self::ClientDeleted => "client_deleted",
        }
    }

    /// Every kind, for validating a filter.
    pub const ALL: [Self; 16] = [
        Self::Register,
        Self::Login,
        Self::LoginFailed,
        Self::Logout,
        Self::LogoutAll,
        Self::SessionRevoked,
        Self::RefreshReuseDetected,
        Self::PasswordChanged,
        Self::SessionLimit,
        Self::AdminRevoked,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::UserDeleted,
        Self::SessionExpired,
        Self::ClientCreated,
        Self::ClientDeleted,
    ];

    /// Reads a stored name back.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One audit log entry.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// When.
    pub at: UnixMillis,
    /// What.
    pub kind: AuditKind,
    /// Whose account, when known.
    pub user_id: Option<String>,
    /// Which session, when there is one.
    pub session_id: Option<String>,
    /// From where.
    pub context: AuditContext,
}

/// One audit log entry as stored, for the admin API and a user's own activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Order of insertion.
    pub id: i64,
    /// When.
    pub at: UnixMillis,
    /// What (an [`AuditKind`] name).
    pub kind: String,
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

/// Which audit events to read: newest first, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this user's.
    pub user_id: Option<String>,
    /// Only this kind.
    pub kind: Option<AuditKind>,
    /// Only at or after this time.
    pub since: Option<UnixMillis>,
    /// At most this many.
    pub limit: u32,
}

/// One user in the admin API's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub username: String,
    /// When the account was created.
    pub created_at: UnixMillis,
    /// Set while disabled.
    pub disabled_at: Option<UnixMillis>,
    /// Sessions neither revoked nor past their idle or absolute deadline.
    pub active_sessions: u64,
}

/// A page of users: names containing `query` (any case), after `after` in name order.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// A part of the name; empty for everyone.
    pub query: String,
    /// The last name of the previous page.
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
    /// Sessions last active before this are idle, so not counted as active.
    pub idle_before: UnixMillis,
    /// Sessions created before this are past their absolute lifetime.
    pub created_before: UnixMillis,
}

/// A confidential client of the OAuth endpoints, as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// `client_id`, public.
    pub id: String,
    /// What the operator called it.
    pub name: String,
    /// When it was created.
    pub created_at: UnixMillis,
}

/// An admin key as listed: never its secret, which only its creator saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKey {
    /// Its name, unique.
    pub name: String,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixMillis>,
}

/// Which session, if any, a user-wide revocation spares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// Every session of the user ends.
    None,
    /// This session (usually the caller's own) stays.
    One(String),
}

/// Who ends sessions, why and when: what the audit log records about a revocation.
#[derive(Debug, Clone)]
pub struct Revocation {
    /// Why: the audit event, also stored as the sessions' revoked reason.
    pub kind: AuditKind,
    /// The session whose request it was, when there is one.
    pub acting_session: Option<String>,
    /// When.
    pub now: UnixMillis,
    /// From where.
    pub context: AuditContext,
}

/// What exchanging a refresh token did.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// The token was spent and the new pair stored for this session.
    Rotated(Session),
    /// The token had been spent before: the session is now revoked.
    Reused {
        /// The revoked session.
        session_id: String,
        /// Its owner.
        user_id: String,
    },
    /// Unknown token, or its session has ended.
    Invalid,
}

/// Storage for users, sessions, token hashes and the audit log.
///
/// Every method that changes state commits durably before it returns.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Backend, notification channel and cache state, for logs and `/healthz`.
    fn health(&self) -> Health;

    /// Whether the database answers.
    async fn ping(&self) -> Result<()>;

    /// Creates a user, or fails with [`StoreError::UsernameTaken`].
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<User>;

    /// Finds a user by name, ignoring case.
    async fn user_by_name(&self, username: &str) -> Result<Option<User>>;

    /// Finds a user by id.
    async fn user_by_id(&self, user_id: &str) -> Result<Option<User>>;

    /// Stores a new session and its first tokens, and logs the login, but only if the
    /// user's password hash is still `verified_hash` (`None` if it is not). The user then
    /// holds at most `max_sessions` live sessions: the oldest beyond that end, are audited
    /// as `session_limit`, and their ids are returned once no node accepts them.
    async fn create_session(
        &self,
        session: &Session,
        tokens: &[NewToken],
        verified_hash: &str,
        max_sessions: u32,
    ) -> Result<Option<Vec<String>>>;

    /// Resolves a token hash from the database, whatever its state; the caller applies the
    /// policy. ([`Storage::token`] answers from the cache when it may.)
    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>>;

    /// Records activity on a session, unless a newer time is recorded already.
    async fn touch_session(&self, session_id: &str, now: UnixMillis) -> Result<()>;

    /// Spends a refresh token and stores its successors `[access, refresh]` atomically, with
    /// expiries the policy derives from the session's age; a token that was spent before
    /// revokes its whole session.
    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: [TokenHash; 2],
        policy: &Policy,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<RefreshOutcome>;

    /// Ends one session; returns whether it was still unrevoked.
    async fn revoke_session(
        &self,
        session_id: &str,
        kind: AuditKind,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<bool>;

    /// Ends every session of a user but the one `keep` names, and logs the revocation;
    /// returns the ids ended.
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep: &Keep,
        revocation: &Revocation,
    ) -> Result<Vec<String>>;

    /// Sets a new password hash and ends every other session of the user, atomically.
    async fn change_password(
        &self,
        user_id: &str,
        new_hash: &str,
        keep_session: &str,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<Vec<String>>;

    /// The user's unrevoked sessions, newest first; the caller filters expired ones.
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<Session>>;

    /// How many sessions of all users are live at `now` under `policy`: one query, for the
    /// metrics' periodic count.
    async fn count_active_sessions(&self, policy: &Policy, now: UnixMillis) -> Result<u64>;

    /// Appends to the audit log on its own (for events with no other write).
    async fn audit(&self, event: &AuditEvent) -> Result<()>;

    /// The audit log of a user, oldest first (for tests and admin tools).
    async fn audit_log(&self, user_id: &str) -> Result<Vec<(String, Option<String>)>>;

    /// Sets or clears (`disabled: false`) the account's disabled mark and logs it, as
    /// `revocation` says (`UserDisabled` or `UserEnabled`). Disabling also ends every session
    /// of the user in the same transaction, and no login can start one afterwards. Returns
    /// the ids ended, or `None` if there is no such user.
    async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled: bool,
        revocation: &Revocation,
    ) -> Result<Option<Vec<String>>>;

    /// Ends every session of the user, then deletes the user, their sessions, tokens and
    /// audit events, keeping one `user_deleted` event with the id and the actor only; all in
    /// one transaction. Returns the ids ended, or `None` if there is no such user.
    async fn delete_user(
        &self,
        user_id: &str,
        revocation: &Revocation,
    ) -> Result<Option<Vec<String>>>;

    /// A page of users with their active session counts, in name order.
    async fn list_users(&self, query: &UserQuery) -> Result<Vec<UserSummary>>;

    /// Audit events, newest first.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;

    /// Stores a new admin key's hash under `name`, or fails with
    /// [`StoreError::KeyNameTaken`].
    async fn create_admin_key(&self, name: &str, hash: &TokenHash, now: UnixMillis) -> Result<()>;

    /// Every admin key, revoked ones included, by name.
    async fn admin_keys(&self) -> Result<Vec<AdminKey>>;

    /// Revokes the key `name`; returns whether it was live.
    async fn revoke_admin_key(&self, name: &str, now: UnixMillis) -> Result<bool>;

    /// The name of the live admin key with this hash.
    async fn admin_key(&self, hash: &TokenHash) -> Result<Option<String>>;

    /// Stores a new client with the hash of its secret.
    async fn create_client(
        &self,
        client: &OAuthClient,
        secret_hash: &TokenHash,
        context: &AuditContext,
    ) -> Result<()>;

    /// Every client, oldest first.
    async fn clients(&self) -> Result<Vec<OAuthClient>>;

    /// Deletes a client; returns whether it existed. Returns once no node accepts it any
    /// more (the deletion travels as a revocation, see [`Storage::delete_client`]).
    async fn delete_client(
        &self,
        client_id: &str,
        now: UnixMillis,
        context: &AuditContext,
    ) -> Result<bool>;

    /// The hash of a client's secret, from the database. ([`Storage::client_secret`]
    /// answers from the cache when it may.)
    async fn client_secret(&self, client_id: &str) -> Result<Option<TokenHash>>;

    /// Leaves the cluster on shutdown, so that no logout waits for this node's lease.
    async fn close(&self) {}

    /// Deletes up to `batch` sessions that ended before `now` (revoked, idle or past their
    /// absolute lifetime), with their tokens; returns how many went.
    async fn delete_ended_sessions(
        &self,
        policy: &Policy,
        now: UnixMillis,
        batch: u32,
    ) -> Result<u64>;

    /// Deletes up to `batch` audit events older than `before`; returns how many went.
    async fn delete_audit_before(&self, before: UnixMillis, batch: u32) -> Result<u64>;

    /// Writes users, and sessions with their tokens, in one transaction and without audit
    /// events: the benchmark's bulk load of live sessions, which a million logins through
    /// argon2id would take hours to make.
    #[cfg(feature = "bench")]
    async fn seed(&self, users: &[User], sessions: &[(Session, Vec<NewToken>)]) -> Result<()>;
}

/// What a store reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Whether revocations from other nodes can be heard (always true for SQLite).
    pub notifications_up: bool,
    /// This node's id in a PostgreSQL cluster.
    pub node_id: Option<String>,
    /// Cache state and hit/miss counts, when a cache is on.
    pub cache: Option<(CacheStatus, u64, u64)>,
}

/// Told by the store what the caller cannot see from outside, such as how long the other
/// nodes took to hear a revocation. Set once, in [`StoreOptions::observer`].
pub trait StoreObserver: std::fmt::Debug + Send + Sync + 'static {
    /// A revocation was committed and, `waited` later, every node had heard it (the last
    /// acknowledgement, or the lease of a silent node run out). With SQLite there is no other
    /// node, and `waited` is the time from the commit to the return.
    fn revocation_confirmed(&self, waited: Duration);
}

/// How to open storage.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Cache token checks in memory (coherently; see [`TokenCache`]).
    pub cache: bool,
    /// Tokens the cache holds at most.
    pub cache_capacity: usize,
    /// PostgreSQL: how long a node's cache lease lasts without renewal. It bounds how long
    /// a logout waits for a node that has died.
    pub lease: Duration,
    /// Told how long each revocation waited for the other nodes.
    pub observer: Option<Arc<dyn StoreObserver>>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache: true,
            cache_capacity: 100_000,
            lease: Duration::from_secs(2),
            observer: None,
        }
    }
}

/// Opens the storage a database URL names (`sqlite://…` or `postgres://…`), migrating it,
/// with this node's token cache unless `options` turn it off.
pub async fn connect(url: &str, options: &StoreOptions) -> Result<Storage> {
    if options.lease < Duration::from_millis(200) {
        return Err(StoreError::Options(
            "the lease must be at least 200ms (it is renewed every quarter-lease)".into(),
        ));
    }
    if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url).await?;
        let store = Arc::new(store.observed_by(options.observer.clone()));
        // One node owns every write, so its own evictions keep the cache coherent.
        let cache = options
            .cache
            .then(|| Arc::new(TokenCache::always(options.cache_capacity)));
        Ok(Storage::new(store, cache))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        // The store's listener evicts what other nodes revoke from the same cache.
        let cache = options
            .cache
            .then(|| Arc::new(TokenCache::leased(options.cache_capacity)));
        let store = PostgresStore::connect(url, options.lease, cache.clone()).await?;
        let store = store.observed_by(options.observer.clone());
        Ok(Storage::new(Arc::new(store), cache))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}
