//! The session service: every rule about users, sessions and tokens, shared by the JSON API
//! and the web pages. Handlers only translate HTTP to these calls and back.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use adieu_core::policy;
use adieu_core::ratelimit::RateLimiter;
use adieu_core::token::{self, IssuedToken};
use adieu_core::{Clock, PasswordHasher, Policy, Session, SessionKind, TokenHash, TokenKind};
use adieu_store::{
    AuditContext, AuditEvent, AuditKind, Keep, NewToken, RefreshOutcome, Revocation, Store,
    TokenRecord, User,
};
use adieu_types::Secret;

use crate::config::Config;
use crate::error::{Error, Result};

/// Who is calling and from where, for sessions and the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Peer IP address.
    pub ip: Option<String>,
    /// `User-Agent`, truncated.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    fn audit(&self) -> AuditContext {
        AuditContext {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// What a login or refresh hands to an API client.
#[derive(Debug)]
pub struct ApiTokens {
    /// The session.
    pub session: Session,
    /// New access token.
    pub access: IssuedToken,
    /// New refresh token.
    pub refresh: IssuedToken,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

/// What a browser login hands out.
#[derive(Debug)]
pub struct WebLogin {
    /// The session.
    pub session: Session,
    /// The cookie value.
    pub cookie: IssuedToken,
}

/// The session service.
pub struct Sessions {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    policy: Policy,
    clock: Arc<dyn Clock>,
    /// Login attempts per username from one IP: the tight limit.
    per_user_ip: RateLimiter,
    /// Login attempts per username from everywhere: the ceiling against distributed guessing.
    per_user: RateLimiter,
    /// Login attempts per IP, whatever the name.
    per_ip: RateLimiter,
    /// Registrations per IP.
    registrations: RateLimiter,
    max_sessions_per_user: u32,
    audit_retention: Duration,
    refresh_delay: Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("backend", &self.store.health().backend)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Builds the service over a store.
    pub fn new(store: Arc<dyn Store>, hasher: PasswordHasher, config: &Config) -> Self {
        let per_minute =
            |limit| RateLimiter::new(limit, Duration::from_secs(60), config.clock.clone());
        Self {
            store,
            hasher,
            policy: config.policy,
            clock: config.clock.clone(),
            per_user_ip: per_minute(config.login_attempts_per_user),
            per_user: per_minute(config.login_attempts_per_user_total),
            per_ip: per_minute(config.login_attempts_per_ip),
            registrations: per_minute(config.registrations_per_ip),
            max_sessions_per_user: config.max_sessions_per_user,
            audit_retention: config.audit_retention,
            refresh_delay: config.refresh_delay,
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The password hasher, for its counters.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Now, by the configured clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Creates an account. The cheap refusals come first (bad input, too many registrations
    /// from this IP, a taken name), so that none of them costs a hash; the unique constraint
    /// still decides a race between two registrations of one name.
    pub async fn register(
        &self,
        username: &str,
        password: &Secret,
        client: &ClientInfo,
    ) -> Result<User> {
        policy::validate_username(username).map_err(|e| Error::bad_request(e.to_string()))?;
        policy::validate_password(password.expose())
            .map_err(|e| Error::bad_request(e.to_string()))?;
        if let Some(ip) = &client.ip {
            self.registrations
                .check(&rate_limit_key(ip))
                .map_err(|retry_after| Error::RateLimited { retry_after })?;
        }
        if self.store.user_by_name(username).await?.is_some() {
            return Err(Error::UsernameTaken);
        }
        let hash = self.hasher.hash(password).await?;
        Ok(self
            .store
            .create_user(username, &hash, self.now(), &client.audit())
            .await?)
    }

    /// Checks a username and password, rate-limited per IP, per name and IP, and per name;
    /// the same error and the same work for an unknown user as for a wrong password.
    async fn check_password(
        &self,
        username: &str,
        password: &Secret,
        client: &ClientInfo,
    ) -> Result<User> {
        let now = self.now();
        if let Some(ip) = &client.ip {
            self.per_ip
                .check(&rate_limit_key(ip))
                .map_err(|retry_after| Error::RateLimited { retry_after })?;
        }
        // A name that could never have been registered cannot match: refuse it before it
        // costs a hash or a rate-limiter entry.
        if policy::validate_username(username).is_err()
            || password.expose().chars().count() > policy::MAX_PASSWORD_CHARS
        {
            return Err(Error::InvalidCredentials);
        }
        let user = self.store.user_by_name(username).await?;
        let stored = user.as_ref().map(|u| u.password_hash.as_str());
        let admission = self.hasher.admit()?;
        self.spend_password_budget(username, client)?;
        if admission.verify(password, stored).await? {
            if let Some(user) = user {
                return Ok(user);
            }
        }
        let event = AuditEvent {
            at: now,
            kind: AuditKind::LoginFailed,
            user_id: user.map(|u| u.id),
            session_id: None,
            context: client.audit(),
        };
        self.store.audit(&event).await?;
        Err(Error::InvalidCredentials)
    }

    /// Counts one password guess against `username`: from this client's IP (the tight limit,
    /// which a guesser elsewhere cannot exhaust for the user) and from everywhere (the
    /// ceiling). Called only once the hash has its place, so that an attempt turned away by
    /// a busy hasher spends nothing.
    fn spend_password_budget(&self, username: &str, client: &ClientInfo) -> Result<()> {
        let name = username.to_ascii_lowercase();
        let ip = client.ip.as_deref().map(rate_limit_key).unwrap_or_default();
        self.per_user_ip
            .check(&format!("{name} {ip}"))
            .and_then(|()| self.per_user.check(&name))
            .map_err(|retry_after| Error::RateLimited { retry_after })
    }

    fn new_session(&self, user: &User, kind: SessionKind, client: &ClientInfo) -> Session {
        let now = self.now();
        Session {
            id: adieu_core::new_id(),
            user_id: user.id.clone(),
            username: user.username.clone(),
            kind,
            created_at: now,
            last_active_at: now,
            revoked_at: None,
            user_agent: client.user_agent.clone(),
            ip: client.ip.clone(),
        }
    }

    fn api_pair(
        &self,
        session: &Session,
        now: i64,
    ) -> (IssuedToken, IssuedToken, [NewToken; 2], u64) {
        let access = token::issue(TokenKind::Access);
        let refresh = token::issue(TokenKind::Refresh);
        let access_expires = self.policy.access_expiry(now, session.created_at);
        let stored = [
            NewToken {
                hash: access.hash,
                kind: TokenKind::Access,
                expires_at: access_expires,
            },
            NewToken {
                hash: refresh.hash,
                kind: TokenKind::Refresh,
                expires_at: self.policy.absolute_expiry(session.created_at),
            },
        ];
        (access, refresh, stored, self.expires_in(session, now))
    }

    /// Seconds an access token issued now for this session lives.
    fn expires_in(&self, session: &Session, now: i64) -> u64 {
        let expires = self.policy.access_expiry(now, session.created_at);
        u64::try_from((expires - now) / 1000).unwrap_or(0)
    }

    /// Stores a new session for the user whose password was just verified, ending the
    /// oldest of their sessions beyond the cap.
    async fn store_session(
        &self,
        session: &Session,
        tokens: &[NewToken],
        user: &User,
    ) -> Result<()> {
        let Some(ended) = self
            .store
            .create_session(
                session,
                tokens,
                &user.password_hash,
                self.max_sessions_per_user,
            )
            .await?
        else {
            // The password changed while this login was being checked.
            return Err(Error::InvalidCredentials);
        };
        if !ended.is_empty() {
            tracing::info!(user.id = %user.id, ended = ended.len(), "oldest sessions ended: too many");
        }
        Ok(())
    }

    /// Logs in through the API: a new session with an access and a refresh token.
    pub async fn login_api(
        &self,
        username: &str,
        password: &Secret,
        client: &ClientInfo,
    ) -> Result<ApiTokens> {
        let user = self.check_password(username, password, client).await?;
        let session = self.new_session(&user, SessionKind::Api, client);
        let (access, refresh, stored, expires_in) = self.api_pair(&session, session.created_at);
        self.store_session(&session, &stored, &user).await?;
        tracing::info!(session.id = %session.id, user.id = %session.user_id, "session created");
        Ok(ApiTokens {
            session,
            access,
            refresh,
            expires_in,
        })
    }

    /// Logs in from a browser: a new session (never a reused id) with a cookie token.
    pub async fn login_web(
        &self,
        username: &str,
        password: &Secret,
        client: &ClientInfo,
    ) -> Result<WebLogin> {
        let user = self.check_password(username, password, client).await?;
        let session = self.new_session(&user, SessionKind::Web, client);
        let cookie = token::issue(TokenKind::Cookie);
        let stored = NewToken {
            hash: cookie.hash,
            kind: TokenKind::Cookie,
            expires_at: self.policy.absolute_expiry(session.created_at),
        };
        self.store_session(&session, &[stored], &user).await?;
        tracing::info!(session.id = %session.id, user.id = %session.user_id, "web session created");
        Ok(WebLogin { session, cookie })
    }

    /// Resolves a presented token to its live session, or fails with `InvalidToken`.
    ///
    /// Answers from the store's coherent cache or the database: once a revocation has
    /// answered, no node accepts the session, so the very next request is refused.
    pub async fn authenticate(&self, kind: TokenKind, presented: &str) -> Result<Session> {
        let hash =
            token::parse(kind, presented).map_err(|_| Error::InvalidToken { presented: true })?;
        let now = self.now();
        let mut record = self.store.token(&hash).await?;
        if !record.as_ref().is_some_and(|r| self.is_live(r, kind, now)) && record.is_some() {
            // A cached copy may know an older `last_active_at` than another node wrote:
            // a refusal is always confirmed by the database.
            record = self.store.token_from_storage(&hash).await?;
        }
        let record = record
            .filter(|r| self.is_live(r, kind, now))
            .ok_or(Error::InvalidToken { presented: true })?;
        if record.session.activity_due(&self.policy, now) {
            self.store.touch_session(&record.session.id, now).await?;
        }
        Ok(record.session)
    }

    fn is_live(&self, record: &TokenRecord, kind: TokenKind, now: i64) -> bool {
        record.kind == kind
            && now < record.expires_at
            && record.spent_at.is_none()
            && record.session.is_active(&self.policy, now)
    }

    /// Finds the session a well-formed token names, whatever its state: logout must work with
    /// an expired access token too.
    async fn session_of(&self, hash: &TokenHash) -> Result<Option<TokenRecord>> {
        Ok(self.store.token(hash).await?)
    }

    /// Ends the session a token belongs to. Unknown, expired and already-ended tokens succeed
    /// silently, so the answer tells nothing about the token.
    pub async fn logout(
        &self,
        kind: TokenKind,
        presented: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let hash =
            token::parse(kind, presented).map_err(|_| Error::InvalidToken { presented: true })?;
        if let Some(record) = self.session_of(&hash).await? {
            if record.kind == kind {
                self.end_session(&record.session.id, AuditKind::Logout, client)
                    .await?;
            }
        }
        Ok(())
    }

    /// Ends one session by id; the caller has checked that it may.
    async fn end_session(
        &self,
        session_id: &str,
        kind: AuditKind,
        client: &ClientInfo,
    ) -> Result<bool> {
        let revoked = self
            .store
            .revoke_session(session_id, kind, self.now(), &client.audit())
            .await?;
        if revoked {
            tracing::info!(session.id = %session_id, reason = kind.as_str(), "session ended");
        }
        Ok(revoked)
    }

    /// Ends every session of the caller's user, the caller's included.
    pub async fn logout_all(&self, current: &Session, client: &ClientInfo) -> Result<u64> {
        let ids = self
            .store
            .revoke_user_sessions(
                &current.user_id,
                &Keep::None,
                &Revocation {
                    kind: AuditKind::LogoutAll,
                    acting_session: Some(current.id.clone()),
                    now: self.now(),
                    context: client.audit(),
                },
            )
            .await?;
        tracing::info!(user.id = %current.user_id, count = ids.len(), "all sessions ended");
        Ok(ids.len() as u64)
    }

    /// Ends one of the caller's own sessions; another user's looks the same as a missing one.
    pub async fn revoke_own(
        &self,
        current: &Session,
        target: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let owned = self
            .sessions(&current.user_id)
            .await?
            .into_iter()
            .any(|s| s.id == target);
        if !owned {
            return Err(Error::NotFound);
        }
        self.end_session(target, AuditKind::SessionRevoked, client)
            .await?;
        Ok(())
    }

    /// The user's live sessions, newest first.
    pub async fn sessions(&self, user_id: &str) -> Result<Vec<Session>> {
        let now = self.now();
        let mut sessions = self.store.user_sessions(user_id).await?;
        sessions.retain(|s| s.is_active(&self.policy, now));
        Ok(sessions)
    }

    /// Exchanges a refresh token for a new pair. A token spent before is theft: the session
    /// ends and every token of it, the thief's and the owner's, stops working.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> Result<ApiTokens> {
        let hash = token::parse(TokenKind::Refresh, presented)
            .map_err(|_| Error::InvalidToken { presented: true })?;
        if !self.refresh_delay.is_zero() {
            tokio::time::sleep(self.refresh_delay).await;
        }
        let now = self.now();
        let access = token::issue(TokenKind::Access);
        let refresh = token::issue(TokenKind::Refresh);
        // One transaction reads the session, spends the old token and stores the new pair
        // with expiries derived from the session's age.
        match self
            .store
            .rotate_refresh(
                &hash,
                [access.hash, refresh.hash],
                &self.policy,
                now,
                &client.audit(),
            )
            .await?
        {
            RefreshOutcome::Rotated(session) => Ok(ApiTokens {
                expires_in: self.expires_in(&session, now),
                session,
                access,
                refresh,
            }),
            RefreshOutcome::Reused {
                session_id,
                user_id,
            } => {
                tracing::warn!(session.id = %session_id, user.id = %user_id, "refresh token reused: session revoked");
                Err(Error::InvalidToken { presented: true })
            }
            RefreshOutcome::Invalid => Err(Error::InvalidToken { presented: true }),
        }
    }

    /// Changes the password after checking the current one, and ends every other session.
    pub async fn change_password(
        &self,
        current: &Session,
        current_password: &Secret,
        new_password: &Secret,
        client: &ClientInfo,
    ) -> Result<u64> {
        policy::validate_password(new_password.expose())
            .map_err(|e| Error::bad_request(e.to_string()))?;
        let user = self
            .store
            .user_by_id(&current.user_id)
            .await?
            .ok_or(Error::InvalidToken { presented: true })?;
        // Guessing the current password with a stolen token counts against the same budget
        // as guessing it at the login form.
        let admission = self.hasher.admit()?;
        self.spend_password_budget(&user.username, client)?;
        if !admission
            .verify(current_password, Some(&user.password_hash))
            .await?
        {
            return Err(Error::InvalidCredentials);
        }
        let hash = self.hasher.hash(new_password).await?;
        let ended = self
            .store
            .change_password(&user.id, &hash, &current.id, self.now(), &client.audit())
            .await?;
        tracing::info!(user.id = %user.id, ended = ended.len(), "password changed");
        Ok(ended.len() as u64)
    }

    /// Deletes audit events older than the retention, in batches; returns how many went.
    pub async fn delete_old_audit(&self, batch: u32) -> Result<u64> {
        let before = self.now() - policy::millis(self.audit_retention);
        let mut total = 0;
        loop {
            let n = self.store.delete_audit_before(before, batch).await?;
            total += n;
            if n < u64::from(batch) {
                return Ok(total);
            }
        }
    }

    /// Deletes sessions that have ended, in batches; returns how many went.
    pub async fn delete_ended(&self, batch: u32) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = self
                .store
                .delete_ended_sessions(&self.policy, self.now(), batch)
                .await?;
            total += n;
            if n < u64::from(batch) {
                return Ok(total);
            }
        }
    }
}

/// The per-IP rate-limit key: the address itself for IPv4, its /64 network for IPv6 (one
/// host commonly holds a whole /64, so single addresses are free to rotate). An IPv4 client
/// of a dual-stack listener (`::ffff:a.b.c.d`) is keyed as the IPv4 address it is.
fn rate_limit_key(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::rate_limit_key;

    #[test]
    fn ipv6_clients_are_limited_per_64_network() {
        assert_eq!(rate_limit_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            rate_limit_key("2001:db8:1:2:ffff::9"),
            rate_limit_key("2001:db8:1:2::1")
        );
        assert_eq!(rate_limit_key("192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn ipv4_mapped_clients_are_limited_per_ipv4_address() {
        assert_eq!(rate_limit_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_ne!(
            rate_limit_key("::ffff:127.0.0.1"),
            rate_limit_key("::ffff:127.0.0.2")
        );
    }
}
