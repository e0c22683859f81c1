//! [`AdieuGuardLayer`] and its [`AdieuGuardService`]: introspect, then pass or refuse.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::bearer::{Presented, presented};
use crate::refusal::Refusal;
use crate::{AdieuGuard, Error};

/// A tower layer that lets a request through only with a live Adieu access token.
///
/// The inner service sees the [`AdieuUser`](crate::AdieuUser) in the request's extensions.
/// Refusals never reach it:
///
/// | request | answer |
/// |---|---|
/// | no `Authorization` header | 401, `WWW-Authenticate: Bearer` |
/// | not `Bearer <token>`, or the token is not a live access token | 401, `WWW-Authenticate: Bearer error="invalid_token"` |
/// | Adieu unreachable, slow, failing, refusing the guard's credentials, or answering nonsense | 503 `temporarily_unavailable` |
#[derive(Debug, Clone)]
pub struct AdieuGuardLayer {
    guard: AdieuGuard,
}

impl AdieuGuardLayer {
    /// The layer of `guard` (also [`AdieuGuard::layer`]).
    pub fn new(guard: AdieuGuard) -> Self {
        Self { guard }
    }
}

impl<S> Layer<S> for AdieuGuardLayer {
    type Service = AdieuGuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AdieuGuardService {
            guard: self.guard.clone(),
            inner,
        }
    }
}

/// The service of [`AdieuGuardLayer`] around `S`.
#[derive(Debug, Clone)]
pub struct AdieuGuardService<S> {
    guard: AdieuGuard,
    inner: S,
}

impl<S, B> Service<Request<B>> for AdieuGuardService<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The service that was polled ready is the one to call; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        let token = match presented(request.headers()) {
            Presented::Token(token) => Ok(token.to_owned()),
            Presented::Nothing => Err(Refusal::NoToken),
            Presented::Malformed => Err(Refusal::InvalidToken),
        };
        Box::pin(async move {
            let token = match token {
                Ok(token) => token,
                Err(refusal) => return Ok(refusal.into_response()),
            };
            let user = match guard.introspect(&token).await {
                Ok(Some(user)) => user,
                Ok(None) => return Ok(Refusal::InvalidToken.into_response()),
                Err(e) => {
                    log(&e);
                    return Ok(Refusal::Unavailable.into_response());
                }
            };
            drop(token);
            request.extensions_mut().insert(user);
            inner.call(request).await.map(IntoResponse::into_response)
        })
    }
}

/// Logs why a request was answered 503; the error holds neither token nor secret.
fn log(e: &Error) {
    let e: &(dyn std::error::Error + 'static) = e;
    if matches!(e.downcast_ref(), Some(Error::ClientRefused)) {
        tracing::error!(
            error = e,
            "the guard is misconfigured; refusing every request"
        );
    } else {
        tracing::warn!(
            error = e,
            "could not introspect a token; refusing the request"
        );
    }
}
