//! Authorized calls, and the single-flight refresh behind them.

use adieu_types::{RefreshRequest, Secret, TokenResponse};
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::answer::Answer;
use crate::state::IfUnsaved;
use crate::url_policy::is_on_server;
use crate::{Client, Error, Result};

impl Client {
    /// Sends `request` with this device's access token. On a 401 the token is refreshed once,
    /// shared with every concurrent caller, and the request retried. Any other answer is
    /// returned as is. The request must go to this client's server; its body must not be a
    /// stream (it may be sent twice).
    pub async fn send_authorized(&self, request: RequestBuilder) -> Result<Response> {
        self.send_authorized_if(request, |_| true).await
    }

    /// [`Client::send_authorized`] for a call that the server may refuse with a 401 of its own
    /// besides the token's (a wrong password, say): only a 401 that refuses the Bearer token
    /// (`WWW-Authenticate: Bearer …`) is refreshed and retried. Any other 401 is returned as
    /// is, with the credentials untouched and the password tried once.
    pub(crate) async fn send_authorized_token_refusals(
        &self,
        request: RequestBuilder,
    ) -> Result<Response> {
        self.send_authorized_if(request, |response| {
            response
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer"))
        })
        .await
    }

    /// [`Client::send_authorized`], refreshing on the 401s that `refresh_on` accepts.
    async fn send_authorized_if(
        &self,
        request: RequestBuilder,
        refresh_on: impl Fn(&Response) -> bool,
    ) -> Result<Response> {
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
        if first.status() != StatusCode::UNAUTHORIZED || !refresh_on(&first) {
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
            // Anything else, a gateway's 401 among them: the session may be alive, so its
            // tokens are kept.
            Answer::Other(failure) => Err(failure.into_error().await),
        }
    }
}
