//! `GET /account`, `POST /account/password` and `POST /account/delete`: change the password,
//! which ends every other session as the API does, or delete the account, which ends them
//! all and then removes its data.
//!
//! The POST answers with a redirect whatever happens (post/redirect/get), so that every
//! signed-in page is a GET that the back/forward-cache guard may safely reload.

use adieu_core::policy::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use adieu_service::Error;
use adieu_types::Secret;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::csrf::SameOrigin;
use super::error::PageError;
use super::extract::{PageForm, WebSession, posted_session};
use super::layout::{Current, Nav, NoticeKind, logout_all_form, logout_form, notice, page};
use super::logged_out;
use crate::AppState;
use crate::extract::Client;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/password", post(change_password))
        .route("/account/delete", post(delete_account))
}

#[derive(Deserialize, Default)]
struct AccountQuery {
    changed: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf: String,
    password: Secret,
    /// The confirmation box; absent when unticked.
    #[serde(default)]
    confirm: Option<String>,
}

#[derive(Deserialize)]
struct PasswordForm {
    // Missing counts as wrong: refused with 403 like any other bad token.
    #[serde(default)]
    csrf: String,
    current_password: Secret,
    new_password: Secret,
}

async fn show(web: WebSession, query: Result<Query<AccountQuery>, QueryRejection>) -> Markup {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let csrf = web.csrf();
    let nav = Nav {
        username: &web.session.username,
        csrf: &csrf,
        current: Current::Account,
    };
    // Only fixed texts are shown, so a crafted link cannot put words in our mouth.
    let error = query.error.as_deref().map(|code| match code {
        "wrong_password" => "Your current password was not right. Nothing was changed.".to_owned(),
        "invalid_password" => format!(
            "The new password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long. Nothing was changed."
        ),
        "busy" => "The server is busy. Nothing was changed; please try again.".to_owned(),
        "wrong_delete_password" => {
            "The password was not right. Your account was not deleted.".to_owned()
        }
        "not_confirmed" => {
            "Tick the box to confirm. Your account was not deleted.".to_owned()
        }
        _ => "Your password could not be changed.".to_owned(),
    });
    page(
        "Account",
        Some(&nav),
        html! {
            h1 { "Account" }
            p.lead { "Signed in as " strong { (web.session.username) } "." }
            @if query.changed.is_some() {
                (notice(NoticeKind::Success, "Your password has been changed and every other session has been signed out."))
            }
            @if let Some(error) = &error {
                (notice(NoticeKind::Error, error))
            }
            div.grid {
                section.card aria-labelledby="change-password" {
                    h2 #change-password { "Change password" }
                    p.card-note { "Changing your password signs out every other device. This one stays signed in." }
                    form method="post" action="/account/password" {
                        input type="hidden" name="csrf" value=(csrf);
                        div.field {
                            label for="current_password" { "Current password" }
                            input #current_password type="password" name="current_password"
                                autocomplete="current-password" required;
                        }
                        div.field {
                            label for="new_password" { "New password" }
                            input #new_password type="password" name="new_password"
                                autocomplete="new-password" required
                                minlength=(MIN_PASSWORD_CHARS) maxlength=(MAX_PASSWORD_CHARS)
                                aria-describedby="new-password-hint";
                            span.hint #new-password-hint { "At least " (MIN_PASSWORD_CHARS) " characters." }
                        }
                        button.button.primary type="submit" { "Change password" }
                    }
                }
                section.card.danger-zone aria-labelledby="log-out" {
                    h2 #log-out { "Log out" }
                    p.card-note { "End this session, or every session of your account at once." }
                    div.actions {
                        (logout_form(&csrf, "Log out", "button primary"))
                        (logout_all_form(&csrf))
                    }
                }
                section.card.danger-zone aria-labelledby="delete-account" {
                    h2 #delete-account { "Delete account" }
                    p.card-note { "Ends every session on every device, then deletes your account, its sessions and its history. This cannot be undone." }
                    form method="post" action="/account/delete" {
                        input type="hidden" name="csrf" value=(csrf);
                        div.field {
                            label for="delete_password" { "Password" }
                            input #delete_password type="password" name="password"
                                autocomplete="current-password" required;
                        }
                        div.field {
                            label {
                                input #delete_confirm type="checkbox" name="confirm" value="yes" required;
                                " I want to delete my account and everything in it"
                            }
                        }
                        button.button.danger type="submit" { "Delete account" }
                    }
                }
            }
        },
    )
}

async fn change_password(
    State(state): State<AppState>,
    _: SameOrigin,
    Client(client): Client,
    headers: HeaderMap,
    PageForm(form): PageForm<PasswordForm>,
) -> Result<Redirect, PageError> {
    let web = posted_session(&state, &headers, &form.csrf).await?;
    let outcome = state
        .sessions
        .change_password(
            &web.session,
            &form.current_password,
            &form.new_password,
            &client,
        )
        .await;
    let to = match outcome {
        Ok(_) => "/account?changed=1",
        Err(Error::InvalidCredentials) => "/account?error=wrong_password",
        Err(Error::Invalid(_)) => "/account?error=invalid_password",
        Err(Error::RateLimited { .. }) => "/account?error=busy",
        Err(other) => return Err(other.into()),
    };
    Ok(Redirect::to(to))
}

async fn delete_account(
    State(state): State<AppState>,
    _: SameOrigin,
    Client(client): Client,
    headers: HeaderMap,
    PageForm(form): PageForm<DeleteForm>,
) -> Result<Response, PageError> {
    let web = posted_session(&state, &headers, &form.csrf).await?;
    if form.confirm.as_deref() != Some("yes") {
        return Ok(Redirect::to("/account?error=not_confirmed").into_response());
    }
    let outcome = state
        .sessions
        .delete_account(&web.session, &form.password, &client)
        .await;
    let to = match outcome {
        // Every session has ended, this one too: the browser forgets it as at a logout.
        Ok(_) => return Ok(logged_out(&state.config, "/login?logged_out=deleted")),
        Err(Error::InvalidCredentials) => "/account?error=wrong_delete_password",
        Err(Error::RateLimited { .. }) => "/account?error=busy",
        Err(other) => return Err(other.into()),
    };
    Ok(Redirect::to(to).into_response())
}
