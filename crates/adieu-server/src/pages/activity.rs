//! `GET /activity`: what happened to your account, newest first: sign-ins and failed
//! attempts, logouts, sessions ended and why, password changes. Never another user's.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use maud::{Markup, html};

use super::error::PageError;
use super::extract::WebSession;
use super::format::{ago, device, time};
use super::layout::{Current, Nav, page};
use crate::AppState;
use crate::api::{ACTIVITY_LIMIT, describe};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/activity", get(show))
}

async fn show(State(state): State<AppState>, web: WebSession) -> Result<Markup, PageError> {
    let events = state
        .sessions
        .activity(&web.session, ACTIVITY_LIMIT)
        .await?;
    let now = state.sessions.now();
    let csrf = web.csrf();
    let nav = Nav {
        username: &web.session.username,
        csrf: &csrf,
        current: Current::Activity,
    };
    Ok(page(
        "Recent activity",
        Some(&nav),
        html! {
            h1 { "Recent activity" }
            p.lead { "What happened to your account lately, newest first. If you don't recognise a sign-in, end that session and change your password." }
            section.card aria-labelledby="events" {
                h2 #events { "Events " span.count { "(" (events.len()) ")" } }
                @if events.is_empty() {
                    p { "Nothing yet." }
                } @else {
                    ul.sessions.activity {
                        @for event in &events {
                            li.session data-event=(event.kind) {
                                div.session-main {
                                    strong { (describe(&event.kind)) }
                                    @if event.actor.is_some() { " " span.badge { "by an administrator" } }
                                }
                                dl.facts {
                                    div { dt { "When" } dd { (time(event.at, &ago(now, event.at))) } }
                                    @if event.user_agent.is_some() {
                                        div { dt { "Device" } dd { (device(event.user_agent.as_deref())) } }
                                    }
                                    @if let Some(ip) = &event.ip {
                                        div { dt { "IP address" } dd { (ip) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}
