//! The request timeout: a request not answered within the limit gets an empty 408.
//!
//! Unlike `tower_http`'s `TimeoutLayer`, which registers a timer for every request before
//! polling it, this polls the request first and arms the timer only when the request has to
//! wait (a database read, a password hash). An answer from memory, such as a token check
//! from the cache, never touches tokio's timer wheel. The deadline still counts from the
//! moment the request arrived.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

/// Answers 408 to any request not answered within `timeout`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestTimeoutLayer {
    timeout: Duration,
}

impl RequestTimeoutLayer {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> RequestTimeout<S> {
        RequestTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service of [`RequestTimeoutLayer`].
#[derive(Debug, Clone)]
pub(crate) struct RequestTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Service<Request> for RequestTimeout<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Timed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Timed {
            inner: self.inner.call(request),
            deadline: Instant::now() + self.timeout,
            sleep: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`RequestTimeout`].
    pub(crate) struct Timed<F> {
        #[pin]
        inner: F,
        deadline: Instant,
        // Boxed so that the common case, which never waits, does not carry a timer entry.
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<F, E> Future for Timed<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result);
        }
        let deadline = *this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
                Poll::Ready(Ok(response))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;
    use tower::ServiceExt;

    #[tokio::test(start_paused = true)]
    async fn a_request_that_waits_past_the_deadline_gets_408_and_a_quick_one_its_answer() {
        let slow = tower::service_fn(|_request: Request| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, Infallible>(Response::new(Body::from("late")))
        });
        let quick = tower::service_fn(|_request: Request| async {
            Ok::<_, Infallible>(Response::new(Body::from("now")))
        });
        let layer = RequestTimeoutLayer::new(Duration::from_secs(30));
        let timed_out = layer
            .layer(slow)
            .oneshot(Request::new(Body::empty()))
            .await
            .unwrap();
        assert_eq!(timed_out.status(), StatusCode::REQUEST_TIMEOUT);
        let answered = layer
            .layer(quick)
            .oneshot(Request::new(Body::empty()))
            .await
            .unwrap();
        assert_eq!(answered.status(), StatusCode::OK);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_waits_less_than_the_deadline_is_answered() {
        let waits = tower::service_fn(|_request: Request| async {
            tokio::time::sleep(Duration::from_secs(29)).await;
            Ok::<_, Infallible>(Response::new(Body::from("in time")))
        });
        let answered = RequestTimeoutLayer::new(Duration::from_secs(30))
            .layer(waits)
            .oneshot(Request::new(Body::empty()))
            .await
            .unwrap();
        assert_eq!(answered.status(), StatusCode::OK);
    }
}
