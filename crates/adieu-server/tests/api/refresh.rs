use reqwest::StatusCode;

use crate::helpers::{TestApp, assert_error};

pub(crate) async fn a_refresh_rotates_both_tokens_within_the_same_session() {
    let app = TestApp::spawn().await;
    let first = app.user("alice").await;
    let second = app.refreshed(&first.refresh).await;
    assert_eq!(second.session_id, first.session_id);
    assert_ne!(second.access, first.access);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(app.me_status(&second.access).await, StatusCode::OK);
    // The new refresh token works once too.
    let third = app.refreshed(&second.refresh).await;
    assert_eq!(app.me_status(&third.access).await, StatusCode::OK);
}

pub(crate) async fn a_refresh_token_reused_after_rotation_revokes_the_session() {
    let app = TestApp::spawn().await;
    let victim = app.user("alice").await;
    let user_id = app.user_id(&victim.access).await;
    // The thief copied the refresh token and uses it first.
    let thief = app.refreshed(&victim.refresh).await;
    // The victim's client tries the same, now spent, token: theft detected.
    assert_error(
        app.refresh(&victim.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    for access in [&victim.access, &thief.access] {
        assert_eq!(app.me_status(access).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        app.refresh(&thief.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let events = app.audit_events(&user_id).await;
    assert!(
        events.contains(&"refresh_reuse_detected".to_owned()),
        "{events:?}"
    );
}

pub(crate) async fn an_access_token_is_not_a_refresh_token_and_vice_versa() {
    let app = TestApp::spawn().await;
    let login = app.user("alice").await;
    assert_eq!(
        app.refresh(&login.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.me_status(&login.refresh).await,
        StatusCode::UNAUTHORIZED
    );
    // Both still work for their own purpose.
    assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
    assert_eq!(app.refresh(&login.refresh).await.status(), StatusCode::OK);
}

pub(crate) async fn concurrent_refreshes_of_one_token_end_the_session() {
    let app = TestApp::spawn().await;
    let login = app.user("alice").await;
    let (a, b) = tokio::join!(app.refresh(&login.refresh), app.refresh(&login.refresh));
    let statuses = [a.status(), b.status()];
    assert!(statuses.contains(&StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert_eq!(app.me_status(&login.access).await, StatusCode::UNAUTHORIZED);
}
