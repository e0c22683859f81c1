//! Logging out: the fence and the local wipe first, then the server, then a pending
//! revocation if the server could not be told.

use adieu_types::{
    LogoutAllResponse, LogoutRequest, LogoutResponse, RefreshRequest, Secret, TokenResponse,
};
use reqwest::StatusCode;

use crate::answer::Answer;
use crate::outcome::{LocalOnlyReason, LogoutAllOutcome, LogoutOutcome, RetryReport};
use crate::state::IfUnsaved;
use crate::store::{PendingRevocation, StoredSession};
use crate::{Client, Result};

/// What a revocation call achieved.
pub(super) enum Revocation {
    Revoked,
    AlreadyEnded,
    Failed(LocalOnlyReason),
}

impl Client {
    /// Logs this device out, in the steps that the crate documentation lists:
    ///
    /// 1. raises the fence: a refresh still in flight can no longer store what it receives;
    /// 2. removes the credentials from the store and from memory, whatever happens next;
    /// 3. asks the server to end the session with `POST /api/logout` and the refresh token,
    ///    which works even when the access token has expired;
    /// 4. tells what happened: [`LogoutOutcome::Revoked`], [`LogoutOutcome::AlreadyEnded`], or
    ///    [`LogoutOutcome::LocalOnly`] when the call failed;
    /// 5. after a `LocalOnly`, keeps the refresh token in the pending-revocation list only,
    ///    for [`Client::retry_pending_revocations`].
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

    /// The retry of pending revocations that [`crate::ClientBuilder::build`] makes, if any are
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

    /// Steps 1 and 2 of [`Client::logout`]: the fence and the local wipe. Returns the session
    /// taken out, whether the server had ended it before, and whether the store write
    /// succeeded.
    pub(super) fn take_session(&self) -> (Option<StoredSession>, bool, Result<()>) {
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

    /// Steps 3 to 5 of [`Client::logout`]: the server call, the outcome, and the pending
    /// revocation if the call failed.
    pub(super) async fn finish_logout(&self, session: StoredSession) -> LogoutOutcome {
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
                // Refused again, with a fresh token: give up.
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
    pub(super) async fn revoke(&self, server: &str, refresh_token: &Secret) -> Revocation {
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

    /// Step 5 of [`Client::logout`] (and of `logout_all`): keeps the refresh token in the
    /// pending list only. Returns whether it was stored.
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
