//! Accounts and sign-in: registration, password checks under rate limits, new sessions with
//! their tokens, and password changes.

use adieu_core::policy;
use adieu_core::token::{self, IssuedToken};
use adieu_core::{Session, SessionKind, TokenKind};
use adieu_store::{AuditEvent, AuditKind, NewToken, User};
use adieu_types::Secret;

use crate::client::rate_limit_key;
use crate::{ApiTokens, ClientInfo, Error, LoginResult, Result, Sessions, WebLogin};

impl Sessions {
    /// Creates an account. The cheap refusals come first (bad input, too many registrations
    /// from this IP, a taken name), so that none of them costs a hash; the unique constraint
    /// still decides a race between two registrations of one name.
    pub async fn register(
        &self,
        username: &str,
        password: &Secret,
        client: &ClientInfo,
    ) -> Result<User> {
        policy::validate_username(username)?;
        policy::validate_password(password.expose())?;
        if let Some(ip) = &client.ip {
            self.registrations
                .check(&rate_limit_key(ip))
                .map_err(|retry_after| Error::RateLimited { retry_after })?;
        }
        if self.storage.store().user_by_name(username).await?.is_some() {
            return Err(Error::UsernameTaken);
        }
        let hash = self.hasher.hash(password).await?;
        Ok(self
            .storage
            .store()
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
        let user = self.storage.store().user_by_name(username).await?;
        let stored = user.as_ref().map(|u| u.password_hash.as_str());
        let admission = self.hasher.admit()?;
        self.spend_password_budget(username, client)?;
        if admission.verify(password, stored).await? {
            if let Some(user) = user {
                if user.disabled_at.is_none() {
                    return Ok(user);
                }
                // Only the right password learns that the account is disabled; a wrong one
                // gets the usual answer below.
                let event = AuditEvent {
                    at: now,
                    kind: AuditKind::LoginFailed,
                    user_id: Some(user.id),
                    session_id: None,
                    context: client.audit(),
                };
                self.storage.store().audit(&event).await?;
                return Err(Error::AccountDisabled);
            }
        }
        let event = AuditEvent {
            at: now,
            kind: AuditKind::LoginFailed,
            user_id: user.map(|u| u.id),
            session_id: None,
            context: client.audit(),
        };
        self.storage.store().audit(&event).await?;
        Err(Error::InvalidCredentials)
    }

    /// Counts one password guess against `username`: from this client's IP (the tight limit,
    /// which a guesser elsewhere cannot exhaust for the user) and from everywhere (the
    /// ceiling). Called only once the hash has its place, so that an attempt turned away by
    /// a busy hasher spends nothing.
    pub(crate) fn spend_password_budget(&self, username: &str, client: &ClientInfo) -> Result<()> {
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
        let expiry = self.policy.token_pair(now, session.created_at);
        let stored = [
            NewToken {
                hash: access.hash,
                kind: TokenKind::Access,
                expires_at: expiry.access,
            },
            NewToken {
                hash: refresh.hash,
                kind: TokenKind::Refresh,
                expires_at: expiry.refresh,
            },
        ];
        (access, refresh, stored, self.expires_in(session, now))
    }

    /// Seconds an access token issued now for this session lives.
    pub(crate) fn expires_in(&self, session: &Session, now: i64) -> u64 {
        let expires = self.policy.token_pair(now, session.created_at).access;
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
            .storage
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
            self.metrics
                .sessions_ended(AuditKind::SessionLimit, ended.len());
            tracing::info!(user.id = %user.id, ended = ended.len(), "oldest sessions ended: too many");
        }
        Ok(())
    }

    /// Counts a login attempt by how it ended.
    fn count_login<T>(&self, outcome: Result<T>) -> Result<T> {
        let result = match &outcome {
            Ok(_) => Some(LoginResult::Success),
            Err(e) => LoginResult::of_error(e),
        };
        if let Some(result) = result {
            self.metrics.login(result);
        }
        outcome
    }

    /// Logs in through the API: a new session with an access and a refresh token.
    pub async fn login_api(
        &self,
        username: &str,
        password: &Secret,
        client: &ClientInfo,
    ) -> Result<ApiTokens> {
        let outcome = self.try_login_api(username, password, client).await;
        self.count_login(outcome)
    }

    async fn try_login_api(
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
        let outcome = self.try_login_web(username, password, client).await;
        self.count_login(outcome)
    }

    async fn try_login_web(
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

    /// The signed-in user, once `password` proves it is them: for the calls that need the
    /// password again (changing it, deleting the account). Guessing it with a stolen token
    /// counts against the same budget as guessing it at the login form.
    pub(crate) async fn check_current_password(
        &self,
        current: &Session,
        password: &Secret,
        client: &ClientInfo,
    ) -> Result<User> {
        let user = self
            .storage
            .store()
            .user_by_id(&current.user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        let admission = self.hasher.admit()?;
        self.spend_password_budget(&user.username, client)?;
        if !admission
            .verify(password, Some(&user.password_hash))
            .await?
        {
            return Err(Error::InvalidCredentials);
        }
        Ok(user)
    }

    /// Changes the password after checking the current one, and ends every other session.
    pub async fn change_password(
        &self,
        current: &Session,
        current_password: &Secret,
        new_password: &Secret,
        client: &ClientInfo,
    ) -> Result<u64> {
        policy::validate_password(new_password.expose())?;
        let user = self
            .check_current_password(current, current_password, client)
            .await?;
        let hash = self.hasher.hash(new_password).await?;
        let ended = self
            .storage
            .change_password(&user.id, &hash, &current.id, self.now(), &client.audit())
            .await?;
        self.metrics
            .sessions_ended(AuditKind::PasswordChanged, ended.len());
        tracing::info!(user.id = %user.id, ended = ended.len(), "password changed");
        Ok(ended.len() as u64)
    }
}
