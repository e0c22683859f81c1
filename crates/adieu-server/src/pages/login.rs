//! `GET /login` and `POST /login`.

use adieu_core::TokenKind;
use adieu_service::Error;
use adieu_types::Secret;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::csrf::SameOrigin;
use super::error::{PageError, rate_limited_text, with_retry_after};
use super::extract::PageForm;
use super::layout::{NoticeKind, notice, page};
use super::redirect::allowed_target;
use super::{cookie, end_previous_session, signed_in};
use crate::AppState;
use crate::extract::Client;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/login", get(show).post(submit))
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
    /// Where forward auth sends the browser back to, an absolute URL of a protected app.
    rd: Option<String>,
    logged_out: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: Secret,
    next: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let next = (query.rd.as_deref())
        .or(query.next.as_deref())
        .and_then(|t| allowed_target(&state.config, t));
    let next = next.as_deref();
    // Someone already signed in has nothing to do here: on to where they were going.
    if let Some(value) = cookie::read(&state.config, &headers) {
        match state.sessions.authenticate(TokenKind::Cookie, &value).await {
            Ok(_) => return Ok(Redirect::to(next.unwrap_or("/")).into_response()),
            Err(Error::InvalidToken) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let message = match query.logged_out.as_deref() {
        Some("all") => Some("You have been logged out of all devices."),
        Some("deleted") => Some("Your account has been deleted, and every session of it ended."),
        Some(_) => Some("You have been logged out."),
        None => None,
    };
    let body = view("", next, message.map(|m| notice(NoticeKind::Success, m)));
    Ok(body.into_response())
}

async fn submit(
    State(state): State<AppState>,
    _: SameOrigin,
    Client(client): Client,
    headers: HeaderMap,
    PageForm(form): PageForm<LoginForm>,
) -> Result<Response, PageError> {
    let next = form
        .next
        .as_deref()
        .and_then(|t| allowed_target(&state.config, t));
    let next = next.as_deref();
    let login = match state
        .sessions
        .login_web(&form.username, &form.password, &client)
        .await
    {
        Ok(login) => login,
        Err(Error::InvalidCredentials) => {
            let message = notice(NoticeKind::Error, "Wrong username or password.");
            let body = view(&form.username, next, Some(message));
            return Ok((StatusCode::UNAUTHORIZED, body).into_response());
        }
        Err(Error::RateLimited { retry_after }) => {
            return Ok(rate_limited(&form.username, next, retry_after));
        }
        Err(other) => return Err(other.into()),
    };
    end_previous_session(&state, &headers, &client).await?;
    Ok(signed_in(
        &state.config,
        login.cookie.secret.expose(),
        next.unwrap_or("/"),
    ))
}

fn rate_limited(username: &str, next: Option<&str>, retry_after: u64) -> Response {
    let text = rate_limited_text(retry_after);
    let body = view(username, next, Some(notice(NoticeKind::Error, &text)));
    with_retry_after(
        (StatusCode::TOO_MANY_REQUESTS, body).into_response(),
        retry_after,
    )
}

fn view(username: &str, next: Option<&str>, message: Option<Markup>) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            div.auth {
                (message.unwrap_or_default())
                div.card {
                    h1 { "Sign in" }
                    p.card-note { "Welcome back. Sign in to see and end your sessions." }
                    form method="post" action="/login" {
                        @if let Some(next) = next {
                            input type="hidden" name="next" value=(next);
                        }
                        div.field {
                            label for="username" { "Username" }
                            input #username type="text" name="username" value=(username)
                                autocomplete="username" autocapitalize="none" spellcheck="false"
                                required maxlength="64" autofocus[username.is_empty()];
                        }
                        div.field {
                            label for="password" { "Password" }
                            input #password type="password" name="password"
                                autocomplete="current-password" required
                                autofocus[!username.is_empty()];
                        }
                        button.button.primary.block type="submit" { "Sign in" }
                    }
                }
                p.switch { "New to Adieu? " a href="/register" { "Create an account" } }
            }
        },
    )
}
