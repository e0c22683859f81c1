use std::time::Duration;

use adieu_core::Policy;
use reqwest::StatusCode;

use crate::helpers::TestApp;

fn short_policy() -> Policy {
    Policy {
        access_token_ttl: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(100),
        absolute_timeout: Duration::from_secs(300),
    }
}

async fn app() -> TestApp {
    TestApp::spawn_with(|c| c.policy = short_policy()).await
}

pub(crate) async fn an_access_token_expires_but_its_refresh_token_still_works() {
    let app = app().await;
    let login = app.user("alice").await;
    app.advance(Duration::from_secs(61));
    assert_eq!(app.me_status(&login.access).await, StatusCode::UNAUTHORIZED);
    let next = app.refreshed(&login.refresh).await;
    assert_eq!(app.me_status(&next.access).await, StatusCode::OK);
}

pub(crate) async fn an_idle_session_ends_and_its_refresh_token_with_it() {
    let app = app().await;
    let login = app.user("alice").await;
    app.advance(Duration::from_secs(101));
    assert_eq!(
        app.refresh(&login.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

pub(crate) async fn activity_keeps_a_session_alive_until_its_absolute_end() {
    let app = app().await;
    let mut login = app.user("alice").await;
    // Use the session every 50 s: never idle for 100 s.
    for _ in 0..5 {
        app.advance(Duration::from_secs(50));
        login = app.refreshed(&login.refresh).await;
        assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
    }
    // 250 s in; the next step crosses the 300 s absolute lifetime.
    app.advance(Duration::from_secs(51));
    assert_eq!(app.me_status(&login.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh(&login.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

pub(crate) async fn access_tokens_never_outlive_the_absolute_lifetime() {
    let app = TestApp::spawn_with(|c| {
        c.policy = Policy {
            access_token_ttl: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(200),
            absolute_timeout: Duration::from_secs(300),
        }
    })
    .await;
    let login = app.user("alice").await;
    app.advance(Duration::from_secs(150));
    let r = app.refresh(&login.refresh).await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["expires_in"], 150,
        "capped at the session's absolute end"
    );
}

pub(crate) async fn activity_is_recorded_at_most_once_per_granularity() {
    let app = app().await; // idle 100 s: granularity 10 s
    let login = app.user("alice").await;
    let recorded = || async { app.sessions(&login.access).await[0].last_active_at };
    let at_login = recorded().await;
    app.advance(Duration::from_secs(5));
    for _ in 0..5 {
        assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
    }
    assert_eq!(
        recorded().await,
        at_login,
        "activity within the granularity is not written"
    );
    app.advance(Duration::from_secs(6));
    assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
    assert_ne!(
        recorded().await,
        at_login,
        "activity after the granularity is written"
    );
}

pub(crate) async fn reads_alone_keep_a_session_from_going_idle() {
    let app = app().await; // idle 100 s, access token 60 s, granularity 10 s
    let login = app.user("alice").await;
    // 57 s of steady use, 9.5 s apart, with only /api/me: activity is written at 19, 38, 57 s.
    for _ in 0..6 {
        app.advance(Duration::from_millis(9_500));
        assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
    }
    // 140 s after login: idle since login would have ended it at 100 s, but the reads moved
    // the idle deadline to 157 s, so the refresh token still works.
    app.advance(Duration::from_secs(83));
    assert_eq!(app.refresh(&login.refresh).await.status(), StatusCode::OK);
}

pub(crate) async fn ended_sessions_are_deleted_in_batches() {
    let app = app().await;
    let a = app.user("alice").await;
    let _b = app.login("alice").await;
    let _c = app.login("alice").await;
    app.logout(&a.access).await;
    app.advance(Duration::from_secs(101)); // the other two are idle now
    let deleted = app.state().sessions.delete_ended(1).await.unwrap();
    assert_eq!(deleted, 3);
    // A deleted session's tokens are just unknown: still refused, and logout still 200.
    assert_eq!(app.me_status(&a.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.logout(&a.access).await.status(), StatusCode::OK);
}
