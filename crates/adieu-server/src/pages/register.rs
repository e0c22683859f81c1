//! `GET /register` and `POST /register`: create an account and sign in with it.

use adieu_core::policy::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use adieu_service::Error;
use adieu_types::Secret;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::csrf::SameOrigin;
use super::error::{PageError, rate_limited_text, with_retry_after};
use super::extract::PageForm;
use super::layout::{NoticeKind, notice, page};
use super::{end_previous_session, signed_in};
use crate::AppState;
use crate::extract::Client;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/register", get(show).post(submit))
}

#[derive(Deserialize)]
struct RegisterForm {
    username: String,
    password: Secret,
}

async fn show() -> Markup {
    view("", None)
}

async fn submit(
    State(state): State<AppState>,
    _: SameOrigin,
    Client(client): Client,
    headers: HeaderMap,
    PageForm(form): PageForm<RegisterForm>,
) -> Result<Response, PageError> {
    let refused = |status: StatusCode, text: &str| {
        let body = view(&form.username, Some(notice(NoticeKind::Error, text)));
        (status, body).into_response()
    };
    match state
        .sessions
        .register(&form.username, &form.password, &client)
        .await
    {
        Ok(_) => {}
        Err(Error::UsernameTaken) => {
            return Ok(refused(StatusCode::CONFLICT, "That username is taken."));
        }
        Err(Error::Invalid(reason)) => {
            return Ok(refused(
                StatusCode::BAD_REQUEST,
                &sentence(&reason.to_string()),
            ));
        }
        Err(Error::RateLimited { retry_after }) => {
            let text = rate_limited_text(retry_after);
            let response = refused(StatusCode::TOO_MANY_REQUESTS, &text);
            return Ok(with_retry_after(response, retry_after));
        }
        Err(other) => return Err(other.into()),
    }
    let login = state
        .sessions
        .login_web(&form.username, &form.password, &client)
        .await?;
    end_previous_session(&state, &headers, &client).await?;
    Ok(signed_in(&state.config, login.cookie.secret.expose(), "/"))
}

/// A validation message as a sentence: capital first letter, full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

fn view(username: &str, message: Option<Markup>) -> Markup {
    page(
        "Create an account",
        None,
        html! {
            div.auth {
                (message.unwrap_or_default())
                div.card {
                    h1 { "Create an account" }
                    p.card-note { "One account, every session in view, and a logout that means it." }
                    form method="post" action="/register" {
                        div.field {
                            label for="username" { "Username" }
                            input #username type="text" name="username" value=(username)
                                autocomplete="username" autocapitalize="none" spellcheck="false"
                                required maxlength="64" pattern="[A-Za-z0-9._\\-]+"
                                aria-describedby="username-hint" autofocus[username.is_empty()];
                            span.hint #username-hint { "Letters, digits, '.', '_' or '-'." }
                        }
                        div.field {
                            label for="password" { "Password" }
                            input #password type="password" name="password"
                                autocomplete="new-password" required
                                minlength=(MIN_PASSWORD_CHARS) maxlength=(MAX_PASSWORD_CHARS)
                                aria-describedby="password-hint" autofocus[!username.is_empty()];
                            span.hint #password-hint { "At least " (MIN_PASSWORD_CHARS) " characters." }
                        }
                        button.button.primary.block type="submit" { "Create account" }
                    }
                }
                p.switch { "Already have an account? " a href="/login" { "Sign in" } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn validation_messages_become_sentences() {
        assert_eq!(
            super::sentence("password must be 8 to 1024 characters long"),
            "Password must be 8 to 1024 characters long."
        );
    }
}
