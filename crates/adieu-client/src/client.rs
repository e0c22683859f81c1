//! The client: one HTTP connection pool, the credentials, and the rules that keep them safe.

use std::sync::{Arc, OnceLock};

use adieu_types::{
    Credentials, LogoutAllResponse, LogoutRequest, LogoutResponse, MeResponse,
    PasswordChangeRequest, PasswordChangeResponse, RefreshRequest, RegisterResponse, Secret,
    SessionInfo, SessionsResponse, TokenResponse,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use crate::answer::{Answer, api_error, read_json};
use crate::builder::ClientBuilder;
use crate::outcome::{LocalOnlyReason, LogoutAllOutcome, LogoutOutcome, RetryReport};
use crate::state::{IfUnsaved, SharedState};
use crate::store::{CredentialStore, PendingRevocation, StoreContents, StoredSession};
use crate::url_policy::{endpoint, is_on_server};
use crate::{Error, Result};

/// The Adieu client: log in, make authorized calls, log out.
///
/// Cheap to clone; clones share the connection pool, the credentials and the refresh.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// One pool for every call.
    http: reqwest::Client,
    /// Server base URL, ending in `/`.
    base: Url,
    /// The credentials and the fence; every store write happens under its lock.
    state: SharedState,
    /// Held for the whole of a refresh, so that concurrent 401s share one.
    refresh_gate: tokio::sync::Mutex<()>,
    /// What the retry at start-up did.
    startup: OnceLock<RetryReport>,
}

/// Who this device is logged in as; nothing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The account name.
    pub username: String,
    /// The session id, as listed by [`Client::sessions`].
    pub session_id: String,
}

/// What a revocation call achieved.
enum Revocation {
    Revoked,
    AlreadyEnded,
    Failed(LocalOnlyReason),
}

impl Client {
    /// Starts configuring a client for the server at `server`, e.g. `https://adieu.example`.
    pub fn builder(server: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(server.into())
    }

    /// A client on `http` for the server at `base`, holding what `store` loaded.
    pub(crate) fn new(
        http: reqwest::Client,
        base: Url,
        store: Arc<dyn CredentialStore>,
        contents: StoreContents,
    ) -> Self {
        Client {
            inner: Arc::new(Inner {
                http,
                base,
                state: SharedState::new(store, contents),
                refresh_gate: tokio::sync::Mutex::new(()),
                startup: OnceLock::new(),
            }),
        }
    }

    /// The retry of pending revocations that [`ClientBuilder::build`] makes, if any are
    /// pending. Its report is kept for [`Client::revocations_retried_at_start`].
    pub(crate) async fn retry_pending_at_start(&self) {
        if self.state().lock().contents.pending_revocations.is_empty() {
            return;
        }
        let (report, recorded) = self.retry_pending().await;
        if let Err(e) = recorded {
            // Not a reason to refuse to start: the entries the store could not drop stay
            // pending, and the next retry asks the server again (which is harmless).
            tracing::warn!(error = %e, "could not record a retried revocation");
        }
        let _ = self.inner.startup.set(report);
    }

    /// The server's base URL.
    pub fn server(&self) -> &Url {
        &self.inner.base
    }

    /// The shared HTTP client, for calls the SDK does not wrap.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Who this device is logged in as on this server, from the local store (no network).
    pub fn session(&self) -> Option<SessionSummary> {
        let state = self.state().lock();
        state
            .contents
            .session
            .as_ref()
            .filter(|s| s.server == self.inner.base.as_str())
            .map(|s| SessionSummary {
                username: s.username.clone(),
                session_id: s.session_id.clone(),
            })
    }

    /// The revocations still owed by servers after a [`LogoutOutcome::LocalOnly`].
    pub fn pending_revocations(&self) -> Vec<PendingRevocation> {
        self.state().lock().contents.pending_revocations.clone()
    }

    /// What the retry at start-up did, if there was anything to retry.
    pub fn revocations_retried_at_start(&self) -> Option<&RetryReport> {
        self.inner.startup.get()
    }

    /// A request to `path` on the server (relative to its base URL), to pass to
    /// [`Client::send_authorized`] or to send as is.
    pub fn request(&self, method: Method, path: &str) -> Result<RequestBuilder> {
        Ok(self.inner.http.request(method, self.url(path)?))
    }

    /// Creates an account. It does not log in.
    pub async fn register(&self, username: &str, password: &Secret) -> Result<RegisterResponse> {
        let body = Credentials {
            username: username.to_owned(),
            password: password.clone(),
        };
        let response = self
            .request(Method::POST, "api/register")?
            .json(&body)
            .send()
            .await
            .map_err(Error::transport)?;
        read_json(response).await
    }

    /// Logs in and stores the new session's tokens. A session this device held before is
    /// logged out (revoked on its server, or left pending if that fails).
    ///
    /// All or nothing: if the store cannot save the new session, this device is left as it was
    /// (the session it held before, if any, is kept), the new session is ended on the server,
    /// and the store's error is returned.
    pub async fn login(&self, username: &str, password: &Secret) -> Result<SessionSummary> {
        let body = Credentials {
            username: username.to_owned(),
            password: password.clone(),
        };
        let response = self
            .request(Method::POST, "api/login")?
            .json(&body)
            .send()
            .await
            .map_err(Error::transport)?;
        let tokens: TokenResponse = read_json(response).await?;
        let summary = SessionSummary {
            username: username.to_owned(),
            session_id: tokens.session_id.clone(),
        };
        let (replaced, saved) = self.state().commit(IfUnsaved::Drop, |draft| {
            // Fences off any refresh of the replaced session still in flight.
            draft.fence();
            draft.ended = false;
            draft.contents_mut().session.replace(StoredSession {
                server: self.inner.base.to_string(),
                username: username.to_owned(),
                session_id: tokens.session_id.clone(),
                access_token: tokens.access_token.clone(),
                refresh_token: tokens.refresh_token.clone(),
            })
        });
        match saved {
            Ok(()) => {
                if let Some(old) = replaced {
                    let outcome = self.finish_logout(old).await;
                    tracing::debug!(?outcome, "replaced session logged out");
                }
                Ok(summary)
            }
            Err(e) => {
                // Nothing on this device holds the new session: end it rather than leave it
                // alive on the server.
                match self
                    .revoke(self.inner.base.as_str(), &tokens.refresh_token)
                    .await
                {
                    Revocation::Revoked | Revocation::AlreadyEnded => {}
                    Revocation::Failed(reason) => tracing::warn!(
                        %reason,
                        session.id = %tokens.session_id,
                        "could not end a session the store failed to save"
                    ),
                }
                Err(e)
            }
        }
    }

    /// Sends `request` with this device's access token. On a 401 the token is refreshed once,
    /// shared with every concurrent caller, and the request retried. Any other answer is
    /// returned as is. The request must go to this client's server; its body must not be a
    /// stream (it may be sent twice).
    pub async fn send_authorized(&self, request: RequestBuilder) -> Result<Response> {
        let probe = request
            .try_clone()
            .ok_or_else(|| {
                Error::InvalidArgument("a streamed request body cannot be retried".into())
            })?
            .build()
            .map_err(Error::transport)?;
        let base = &self.inner.base;
        if !is_on_server(base, probe.url()) {
            // Never attach our token to a request for another server.
            return Err(Error::InvalidUrl(
                "the request does not go to this client's server".into(),
            ));
        }
        drop(probe);
        let (token, generation, session_id) = self.access()?;
        let first = request
            .try_clone()
            .ok_or_else(|| {
                Error::InvalidArgument("a streamed request body cannot be retried".into())
            })?
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(Error::transport)?;
        if first.status() != StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        drop(first);
        self.refresh(generation, &session_id).await?;
        let (token, _, now_session) = self.access()?;
        if now_session != session_id {
            // Another login took over while we waited: this request was not made for it.
            return Err(Error::NotLoggedIn);
        }
        request
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(Error::transport)
    }

    /// `GET /api/me`: who the server says this device is.
    pub async fn me(&self) -> Result<MeResponse> {
        let request = self.request(Method::GET, "api/me")?;
        read_json(self.send_authorized(request).await?).await
    }

    /// `GET /api/sessions`: the user's active sessions, newest first, this one marked
    /// `current`.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>> {
        let request = self.request(Method::GET, "api/sessions")?;
        let list: SessionsResponse = read_json(self.send_authorized(request).await?).await?;
        Ok(list.sessions)
    }

    /// `DELETE /api/sessions/{id}`: ends one of the user's sessions. If it is this device's own
    /// session, the local credentials are removed once the server has confirmed.
    pub async fn revoke_session(&self, id: &str) -> Result<()> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Error::InvalidArgument(format!(
                "{id:?} is not a session id"
            )));
        }
        let request = self.request(Method::DELETE, &format!("api/sessions/{id}"))?;
        let response = self.send_authorized(request).await?;
        if !response.status().is_success() {
            return Err(api_error(response).await);
        }
        let own = self.session().is_some_and(|s| s.session_id == id);
        if own {
            let (taken, _, saved) = self.take_session();
            drop(taken);
            saved?;
        }
        Ok(())
    }

    /// `POST /api/password`: changes the password; the server ends every other session.
    pub async fn change_password(
        &self,
        current: &Secret,
        new: &Secret,
    ) -> Result<PasswordChangeResponse> {
        let body = PasswordChangeRequest {
            current_password: current.clone(),
            new_password: new.clone(),
        };
        let request = self.request(Method::POST, "api/password")?.json(&body);
        read_json(self.send_authorized(request).await?).await
    }

    /// Logs this device out. In this order:
    ///
    /// 1. raises the fence: a refresh still in flight can no longer store what it receives;
    /// 2. removes the credentials from the store and from memory, whatever happens next;
    /// 3. asks the server to end the session with `POST /api/logout` and the refresh token,
    ///    which works even when the access token has expired;
    /// 4. tells what happened: [`LogoutOutcome::Revoked`], [`LogoutOutcome::AlreadyEnded`], or
    ///    [`LogoutOutcome::LocalOnly`] when the call failed, in which case the refresh token is
    ///    kept only in the pending-revocation list.
    ///
    /// An `Err` means the store could not be cleared (the server was still asked to end the
    /// session, so the tokens left behind should be dead).
    pub async fn logout(&self) -> Result<LogoutOutcome> {
        let (taken, ended, saved) = self.take_session();
        let outcome = match taken {
            Some(session) => self.finish_logout(session).await,
            None if ended => LogoutOutcome::AlreadyEnded,
            None => LogoutOutcome::NotLoggedIn,
        };
        saved?;
        Ok(outcome)
    }

    /// Ends every session of the user, this one included, and logs this device out. The local
    /// credentials are removed before the server call, as for [`Client::logout`]; it waits for
    /// a refresh in flight so as to use the freshest token.
    pub async fn logout_all(&self) -> Result<LogoutAllOutcome> {
        // No other refresh may run while we spend the refresh token ourselves below.
        let _gate = self.inner.refresh_gate.lock().await;
        let (taken, ended, saved) = self.take_session();
        let outcome = match taken {
            Some(session) => self.end_all(session).await,
            None if ended => LogoutAllOutcome::AlreadyEnded,
            None => LogoutAllOutcome::NotLoggedIn,
        };
        saved?;
        Ok(outcome)
    }

    /// Retries every pending revocation, each at the server that issued its token, and removes
    /// from the list each one the server confirms. An `Err` means the store could not record
    /// the result (the revocations themselves may have succeeded).
    pub async fn retry_pending_revocations(&self) -> Result<RetryReport> {
        let (report, recorded) = self.retry_pending().await;
        recorded.map(|()| report)
    }

    /// Retries every pending revocation; returns what happened and whether the store recorded
    /// it.
    async fn retry_pending(&self) -> (RetryReport, Result<()>) {
        let pending = self.state().lock().contents.pending_revocations.clone();
        let mut report = RetryReport::default();
        let mut store_error = None;
        for entry in pending {
            match self.revoke(entry.server(), entry.refresh_token()).await {
                Revocation::Revoked | Revocation::AlreadyEnded => {
                    tracing::debug!(session.id = %entry.session_id(), "pending revocation done");
                    let ((), saved) = self.state().commit(IfUnsaved::Drop, |draft| {
                        draft
                            .contents_mut()
                            .pending_revocations
                            .retain(|p| p != &entry);
                    });
                    if let Err(e) = saved {
                        store_error = Some(e);
                    }
                    report.revoked.push(entry.session_id().to_owned());
                }
                Revocation::Failed(reason) => {
                    report
                        .still_pending
                        .push((entry.session_id().to_owned(), reason));
                }
            }
        }
        (report, store_error.map_or(Ok(()), Err))
    }

    fn state(&self) -> &SharedState {
        &self.inner.state
    }

    fn url(&self, path: &str) -> Result<Url> {
        endpoint(&self.inner.base, path)
    }

    /// The access token to send, the generation it belongs to, and its session.
    fn access(&self) -> Result<(Secret, u64, String)> {
        let state = self.state().lock();
        match &state.contents.session {
            Some(s) if s.server == self.inner.base.as_str() => Ok((
                s.access_token.clone(),
                state.generation,
                s.session_id.clone(),
            )),
            _ if state.ended => Err(Error::SessionEnded),
            _ => Err(Error::NotLoggedIn),
        }
    }

    /// Refreshes the tokens of `session_id` unless someone has done so since `seen`.
    /// Single-flight: callers queue on the gate, and all but the first find the work done.
    async fn refresh(&self, seen: u64, session_id: &str) -> Result<()> {
        let _gate = self.inner.refresh_gate.lock().await;
        let (refresh_token, generation) = {
            let state = self.state().lock();
            match &state.contents.session {
                Some(s) if s.session_id == session_id => {
                    if state.generation != seen {
                        return Ok(());
                    }
                    (s.refresh_token.clone(), state.generation)
                }
                _ if state.ended => return Err(Error::SessionEnded),
                _ => return Err(Error::NotLoggedIn),
            }
        };
        tracing::debug!(session.id = %session_id, "refreshing the access token");
        let answer = self
            .post::<TokenResponse>(self.inner.base.as_str(), "api/token/refresh", |request| {
                request.json(&RefreshRequest { refresh_token })
            })
            .await;
        match answer {
            Answer::Ok(tokens) => {
                // Even if the store fails, memory moves on: the old refresh token is spent.
                let (current, saved) = self.state().commit(IfUnsaved::Keep, |draft| {
                    if draft.generation() != generation {
                        // The fence: a logout (or a new login) happened while this refresh was
                        // in flight. Its tokens are dropped, and wiped, here.
                        tracing::debug!(session.id = %session_id, "refresh result dropped after logout");
                        return Err(Error::NotLoggedIn);
                    }
                    draft.fence();
                    if let Some(s) = draft.contents_mut().session.as_mut() {
                        s.access_token = tokens.access_token.clone();
                        s.refresh_token = tokens.refresh_token.clone();
                    }
                    Ok(())
                });
                current?;
                saved
            }
            Answer::InvalidToken => {
                let (current, saved) = self.state().commit(IfUnsaved::Keep, |draft| {
                    if draft.generation() != generation {
                        // Logged out (or in again) meanwhile: that is what ended this session.
                        return Err(Error::NotLoggedIn);
                    }
                    // The server ended the session; the tokens are useless, so drop them.
                    draft.fence();
                    draft.ended = true;
                    draft.contents_mut().session = None;
                    Ok(())
                });
                current?;
                saved?;
                Err(Error::SessionEnded)
            }
            // Not the server refusing the token (a gateway's 401, say): the session may be
            // alive, so its tokens are kept.
            Answer::Other(failure) => Err(failure.into_error().await),
        }
    }

    /// Steps 1 and 2 of a logout: the fence and the local wipe. Returns the session taken out,
    /// whether the server had ended it before, and whether the store write succeeded.
    fn take_session(&self) -> (Option<StoredSession>, bool, Result<()>) {
        // Memory is wiped even if the store fails.
        let ((taken, ended), saved) = self.state().commit(IfUnsaved::Keep, |draft| {
            draft.fence();
            let ended = std::mem::take(&mut draft.ended);
            // Without a session there is nothing to write.
            let taken = if draft.contents().session.is_some() {
                draft.contents_mut().session.take()
            } else {
                None
            };
            (taken, ended)
        });
        (taken, ended, saved)
    }

    /// Steps 3 to 5 of a logout.
    async fn finish_logout(&self, session: StoredSession) -> LogoutOutcome {
        match self.revoke(&session.server, &session.refresh_token).await {
            Revocation::Revoked => LogoutOutcome::Revoked,
            Revocation::AlreadyEnded => LogoutOutcome::AlreadyEnded,
            Revocation::Failed(reason) => LogoutOutcome::LocalOnly {
                reason,
                retry_pending: self.add_pending(session),
            },
        }
    }

    /// `POST /api/logout/all` with the access token, refreshed once if it has expired.
    async fn end_all(&self, mut session: StoredSession) -> LogoutAllOutcome {
        let mut refreshed = false;
        let reason = loop {
            let answer = self
                .post::<LogoutAllResponse>(&session.server, "api/logout/all", |request| {
                    request.bearer_auth(session.access_token.expose())
                })
                .await;
            match answer {
                Answer::Ok(body) => {
                    return LogoutAllOutcome::Revoked {
                        sessions: body.revoked_sessions,
                    };
                }
                // The access token expired: buy a fresh pair with the refresh token, for this
                // call only (the gate is held, so nobody else spends it).
                Answer::InvalidToken if !refreshed => {
                    refreshed = true;
                    match self.refresh_detached(&session).await {
                        Answer::Ok(tokens) => {
                            session.access_token = tokens.access_token.clone();
                            session.refresh_token = tokens.refresh_token.clone();
                        }
                        Answer::InvalidToken => return LogoutAllOutcome::AlreadyEnded,
                        Answer::Other(failure) => break failure.reason(),
                    }
                }
                // Refused even fresh: not an answer the server gives.
                Answer::InvalidToken => {
                    break LocalOnlyReason::UnexpectedStatus(StatusCode::UNAUTHORIZED.as_u16());
                }
                Answer::Other(failure) => break failure.reason(),
            }
        };
        LogoutAllOutcome::LocalOnly {
            reason,
            retry_pending: self.add_pending(session),
        }
    }

    /// A refresh whose result is not stored (used by `logout_all` after the fence).
    async fn refresh_detached(&self, session: &StoredSession) -> Answer<TokenResponse> {
        let body = RefreshRequest {
            refresh_token: session.refresh_token.clone(),
        };
        self.post(&session.server, "api/token/refresh", |request| {
            request.json(&body)
        })
        .await
    }

    /// `POST /api/logout` with a refresh token, at the server that issued it.
    async fn revoke(&self, server: &str, refresh_token: &Secret) -> Revocation {
        let body = LogoutRequest {
            refresh_token: Some(refresh_token.clone()),
        };
        // A 200 or 401 that is not the server's own leaves the session possibly alive: the
        // token is kept pending rather than dropped.
        match self
            .post::<LogoutResponse>(server, "api/logout", |request| request.json(&body))
            .await
        {
            Answer::Ok(_) => Revocation::Revoked,
            Answer::InvalidToken => Revocation::AlreadyEnded,
            Answer::Other(failure) => Revocation::Failed(failure.reason()),
        }
    }

    /// Step 5: keeps the refresh token in the pending list only. Returns whether it was stored.
    fn add_pending(&self, session: StoredSession) -> bool {
        let entry =
            PendingRevocation::new(session.server, session.session_id, session.refresh_token);
        let ((), saved) = self.state().commit(IfUnsaved::Drop, |draft| {
            draft.contents_mut().pending_revocations.push(entry);
        });
        match saved {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not record a pending revocation");
                false
            }
        }
    }
}
