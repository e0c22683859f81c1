//! `POST /sessions/{id}/sign-out`: "Sign out this device" for one chosen session.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;

use super::csrf::SameOrigin;
use super::error::PageError;
use super::extract::{CsrfForm, PageForm, posted_session};
use super::logged_out;
use super::redirect::login_url;
use crate::AppState;
use crate::extract::Client;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/sessions/{id}/sign-out", post(sign_out))
}

async fn sign_out(
    State(state): State<AppState>,
    _: SameOrigin,
    Path(id): Path<String>,
    Client(client): Client,
    headers: HeaderMap,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    let web = posted_session(&state, &headers, &form.csrf).await?;
    state
        .sessions
        .revoke_own(&web.session, &id, &client)
        .await?;
    if id == web.session.id {
        // Signing out the device in hand is a logout.
        return Ok(logged_out(
            &state.config,
            &login_url(None, Some("logged_out=1")),
        ));
    }
    Ok(Redirect::to("/?signed_out=1").into_response())
}
