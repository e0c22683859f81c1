//! The client: one HTTP connection pool, the credentials, and the rules that keep them safe.

mod authorized;
mod logout;

use std::sync::{Arc, OnceLock};

use adieu_types::{
    ActivityEvent, ActivityResponse, Credentials, DeleteAccountRequest, MeResponse,
    PasswordChangeRequest, PasswordChangeResponse, RegisterResponse, Secret, SessionInfo,
    SessionsResponse, TokenResponse, UserActionResponse,
};
use reqwest::{Method, RequestBuilder, Url};

use crate::answer::{api_error, read_json};
use crate::builder::ClientBuilder;
use crate::outcome::RetryReport;
use crate::state::{IfUnsaved, SharedState};
use crate::store::{CredentialStore, PendingRevocation, StoreContents, StoredSession};
use crate::url_policy::endpoint;
use crate::{Error, Result};
use logout::Revocation;

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
    /// Held for the whole of a refresh, so that concurrent 401s share one, and by `logout_all`,
    /// which may spend the refresh token itself.
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

    /// The revocations still owed by servers after a
    /// [`LogoutOutcome::LocalOnly`](crate::LogoutOutcome::LocalOnly).
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

    /// `GET /api/activity`: what happened to the account (logins, logouts, revocations,
    /// password changes, an administrator's actions), newest first.
    pub async fn activity(&self) -> Result<Vec<ActivityEvent>> {
        let request = self.request(Method::GET, "api/activity")?;
        let list: ActivityResponse = read_json(self.send_authorized(request).await?).await?;
        Ok(list.events)
    }

    /// `DELETE /api/account`: deletes the account, confirmed by its `password`; the server ends
    /// every session of it. Once the server has confirmed, this device is wiped as by
    /// [`Client::logout`] (the fence, then the credentials out of the store and memory); there
    /// is nothing left to revoke.
    ///
    /// A wrong password is an [`Error::Api`] with status 401 and code `invalid_credentials`,
    /// and changes nothing here: the session and its tokens stay as they were (the password is
    /// sent once, and no refresh is made for that refusal). Any other failure also leaves this
    /// device as it was. An `Err` from the store after the server's confirmation means the
    /// account is gone but the (dead) tokens could not be erased.
    pub async fn delete_account(&self, password: &Secret) -> Result<UserActionResponse> {
        let body = DeleteAccountRequest {
            password: password.clone(),
        };
        let request = self.request(Method::DELETE, "api/account")?.json(&body);
        let response = self.send_authorized_token_refusals(request).await?;
        let deleted: UserActionResponse = read_json(response).await?;
        let (taken, _, saved) = self.take_session();
        drop(taken);
        saved?;
        Ok(deleted)
    }

    fn state(&self) -> &SharedState {
        &self.inner.state
    }

    fn url(&self, path: &str) -> Result<Url> {
        endpoint(&self.inner.base, path)
    }
}
