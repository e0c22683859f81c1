//! Logging out: `GET /logout` (a confirmation page, changes nothing), `POST /logout` and
//! `POST /logout/all`.

use adieu_core::TokenKind;
use adieu_service::Error;
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
use super::extract::{PageForm, WebSession, posted_cookie};
use super::layout::{Current, Nav, logout_all_form, logout_form, page};
use super::logged_out;
use super::redirect::{after_logout, allowed_target, login_url};
use crate::AppState;
use crate::extract::Client;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/logout", get(confirm).post(logout))
        .route("/logout/all", post(logout_all))
}

#[derive(Deserialize)]
struct LogoutForm {
    // Missing counts as wrong: refused with 403 like any other bad token.
    #[serde(default)]
    csrf: String,
    /// Where to go after signing in again.
    next: Option<String>,
}

#[derive(Deserialize, Default)]
struct ConfirmQuery {
    /// Where an app's "Log out" link wants the browser to end up.
    rd: Option<String>,
}

/// A GET never logs out (a link or an image on another site could trigger it); it shows the
/// form that does. An app links here with `?rd=<its URL>`; the form carries that along.
async fn confirm(
    State(state): State<AppState>,
    web: WebSession,
    query: Result<Query<ConfirmQuery>, QueryRejection>,
) -> Markup {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let rd = query
        .rd
        .as_deref()
        .and_then(|t| allowed_target(&state.config, t));
    let csrf = web.csrf();
    let nav = Nav {
        username: &web.session.username,
        csrf: &csrf,
        current: Current::Other,
    };
    page(
        "Log out",
        Some(&nav),
        html! {
            div.auth {
                div.card {
                    h1 { "Log out?" }
                    p { "You are signed in as " strong { (web.session.username) } "." }
                    p.card-note {
                        "Logging out ends this session on the server and clears Adieu's data from this browser."
                    }
                    div.actions {
                        @if let Some(rd) = &rd {
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="next" value=(rd);
                                button type="submit" class="button primary" { "Log out" }
                            }
                        } @else {
                            (logout_form(&csrf, "Log out", "button primary"))
                        }
                        (logout_all_form(&csrf))
                        a.button href="/" { "Cancel" }
                    }
                }
            }
        },
    )
}

async fn logout(
    State(state): State<AppState>,
    _: SameOrigin,
    Client(client): Client,
    headers: HeaderMap,
    PageForm(form): PageForm<LogoutForm>,
) -> Result<Response, PageError> {
    let done = after_logout(&state.config, form.next.as_deref(), "logged_out=1");
    let cookie = match posted_cookie(&state, &headers, &form.csrf) {
        Ok(cookie) => cookie,
        // No session in this browser: nothing to end, and no cookie to touch.
        Err(PageError::SignIn { .. }) => return Ok(Redirect::to(&done).into_response()),
        Err(refused) => return Err(refused),
    };
    match state
        .sessions
        .logout(TokenKind::Cookie, &cookie, &client)
        .await
    {
        // A malformed cookie names no session; it is deleted all the same.
        Ok(()) | Err(Error::InvalidToken) => {}
        Err(other) => return Err(other.into()),
    }
    Ok(logged_out(&state.config, &done))
}

async fn logout_all(
    State(state): State<AppState>,
    _: SameOrigin,
    Client(client): Client,
    headers: HeaderMap,
    PageForm(form): PageForm<LogoutForm>,
) -> Result<Response, PageError> {
    let cookie = match posted_cookie(&state, &headers, &form.csrf) {
        Ok(cookie) => cookie,
        Err(PageError::SignIn { .. }) => {
            return Ok(Redirect::to(&login_url(None, None)).into_response());
        }
        Err(refused) => return Err(refused),
    };
    match state
        .sessions
        .authenticate(TokenKind::Cookie, &cookie)
        .await
    {
        Ok(session) => {
            state.sessions.logout_all(&session, &client).await?;
            let done = after_logout(&state.config, form.next.as_deref(), "logged_out=all");
            Ok(logged_out(&state.config, &done))
        }
        // This browser's session has already ended, so it cannot speak for the others:
        // only its own leftovers are cleared.
        Err(Error::InvalidToken) => Ok(logged_out(
            &state.config,
            &after_logout(&state.config, form.next.as_deref(), "logged_out=1"),
        )),
        Err(other) => Err(other.into()),
    }
}
