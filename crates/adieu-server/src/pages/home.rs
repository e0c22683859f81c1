//! `GET /`: who you are, this session, every active session, and the ways to log out.

use adieu_core::Session;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::PageError;
use super::extract::WebSession;
use super::format::{ago, device, time, until};
use super::layout::{Current, Nav, NoticeKind, logout_all_form, logout_form, notice, page};
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/", get(show))
}

#[derive(Deserialize, Default)]
struct HomeQuery {
    signed_out: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    web: WebSession,
    query: Result<Query<HomeQuery>, QueryRejection>,
) -> Result<Markup, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let sessions = state.sessions.sessions(&web.session.user_id).await?;
    let now = state.sessions.now();
    let policy = state.sessions.policy();
    let current = &web.session;
    let csrf = web.csrf();
    let nav = Nav {
        username: &current.username,
        csrf: &csrf,
        current: Current::Home,
    };
    let content = html! {
        @if query.signed_out.is_some() {
            (notice(NoticeKind::Success, "That device has been signed out."))
        }
        h1 { "Hello, " (current.username) }
        p.lead {
            "You are signed in as " strong { (current.username) } ". "
            "Here is every place your account is signed in. Sign out anything you don't recognise."
        }
        section.card aria-labelledby="this-session" {
            h2 #this-session { "This session" }
            dl.facts {
                div { dt { "Device" } dd { (device(current.user_agent.as_deref())) } }
                div { dt { "IP address" } dd { (current.ip.as_deref().unwrap_or("unknown")) } }
                div { dt { "Signed in" } dd { (time(current.created_at, &ago(now, current.created_at))) } }
                div { dt { "Ends" } dd {
                    @let ends = current.expires_at(policy);
                    (time(ends, &until(now, ends))) " unless you log out"
                } }
            }
        }
        section.card aria-labelledby="active-sessions" {
            h2 #active-sessions {
                "Active sessions " span.count { "(" (sessions.len()) ")" }
            }
            ul.sessions {
                @for session in &sessions {
                    (session_item(session, current, now, &csrf))
                }
            }
        }
        section.card.danger-zone aria-labelledby="log-out" {
            h2 #log-out { "Log out" }
            p.card-note {
                "Logging out ends this session on the server at once and clears Adieu's data "
                "from this browser. Logging out of all devices ends every session above, "
                "including apps signed in through the API."
            }
            div.actions {
                (logout_form(&csrf, "Log out", "button primary"))
                (logout_all_form(&csrf))
            }
        }
    };
    Ok(page("Your sessions", Some(&nav), content))
}

fn session_item(session: &Session, current: &Session, now: i64, csrf: &str) -> Markup {
    let is_current = session.id == current.id;
    let label_id = format!("device-{}", session.id);
    html! {
        li.session {
            div.session-main {
                div.device #(label_id) {
                    (device(session.user_agent.as_deref()))
                    @if is_current { span.badge { "This device" } }
                    span.badge.kind { (match session.kind {
                        adieu_core::SessionKind::Web => "Browser",
                        adieu_core::SessionKind::Api => "API",
                    }) }
                }
                p.meta {
                    span { "IP " (session.ip.as_deref().unwrap_or("unknown")) }
                    span { "Last active " (time(session.last_active_at, &ago(now, session.last_active_at))) }
                    span { "Signed in " (time(session.created_at, &ago(now, session.created_at))) }
                }
                p.ua.mono { (session.user_agent.as_deref().unwrap_or("No user agent sent")) }
            }
            form.inline method="post" action={ "/sessions/" (session.id) "/sign-out" } {
                input type="hidden" name="csrf" value=(csrf);
                button.button.quiet.small type="submit" aria-describedby=(label_id) { "Sign out this device" }
            }
        }
    }
}
