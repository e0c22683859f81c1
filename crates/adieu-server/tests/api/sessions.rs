use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error};

pub(crate) async fn logout_all_ends_the_sessions_of_every_device() {
    let app = TestApp::spawn().await;
    let phone = app.user("alice").await;
    let laptop = app.login("alice").await;
    let tablet = app.login("alice").await;
    let bob = app.user("bob").await;

    let r = app.logout_all(&phone.access).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"status": "logged_out", "revoked_sessions": 3}));

    for device in [&phone, &laptop, &tablet] {
        assert_eq!(
            app.me_status(&device.access).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&device.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Another user is untouched.
    assert_eq!(app.me_status(&bob.access).await, StatusCode::OK);
}

pub(crate) async fn the_session_list_shows_live_sessions_and_marks_the_current_one() {
    let app = TestApp::spawn().await;
    let phone = app.user("alice").await;
    let r = app
        .client
        .post(app.url("/api/login"))
        .header("user-agent", "laptop-browser/1.0")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let laptop = crate::helpers::Login::from(r.json::<adieu_types::TokenResponse>().await.unwrap());
    let ended = app.login("alice").await;
    app.logout(&ended.access).await;

    let sessions = app.sessions(&phone.access).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let current: Vec<_> = sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].id, phone.session_id);
    let other = sessions.iter().find(|s| s.id == laptop.session_id).unwrap();
    assert_eq!(other.user_agent.as_deref(), Some("laptop-browser/1.0"));
    assert_eq!(other.ip.as_deref(), Some("127.0.0.1"));
    // The times arrived as RFC 3339 (the typed answer parses nothing else) and make sense.
    assert!(other.created_at <= other.last_active_at);
    assert!(other.last_active_at < other.expires_at);
}

pub(crate) async fn a_user_can_end_one_of_their_own_sessions_but_not_someone_elses() {
    let app = TestApp::spawn().await;
    let phone = app.user("alice").await;
    let laptop = app.login("alice").await;
    let bob = app.user("bob").await;

    // Bob cannot end Alice's session, and cannot tell it exists.
    assert_eq!(
        app.delete_session(&bob.access, &laptop.session_id).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete_session(&bob.access, "no-such-session").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.me_status(&laptop.access).await, StatusCode::OK);

    assert_eq!(
        app.delete_session(&phone.access, &laptop.session_id).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.me_status(&laptop.access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&laptop.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.me_status(&phone.access).await, StatusCode::OK);
    // Ending it again is a 404: it is no longer a live session of the caller.
    assert_eq!(
        app.delete_session(&phone.access, &laptop.session_id).await,
        StatusCode::NOT_FOUND
    );
}

pub(crate) async fn a_password_change_ends_the_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let phone = app.user("alice").await;
    let laptop = app.login("alice").await;
    let new_password = "a much better passphrase";

    let r = app
        .client
        .post(app.url("/api/password"))
        .bearer_auth(&phone.access)
        .json(&json!({"current_password": PASSWORD, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "password_changed", "revoked_sessions": 1})
    );

    assert_eq!(app.me_status(&phone.access).await, StatusCode::OK);
    assert_eq!(
        app.me_status(&laptop.access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&laptop.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.try_login("alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.try_login("alice", new_password).await.status(),
        StatusCode::OK
    );
}

pub(crate) async fn a_wrong_current_password_changes_nothing() {
    let app = TestApp::spawn().await;
    let phone = app.user("alice").await;
    let laptop = app.login("alice").await;
    let r = app
        .client
        .post(app.url("/api/password"))
        .bearer_auth(&phone.access)
        .json(&json!({"current_password": "not my password", "new_password": "whatever12345"}))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.me_status(&laptop.access).await, StatusCode::OK);
    assert_eq!(
        app.try_login("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

pub(crate) async fn every_session_event_reaches_the_audit_log() {
    let app = TestApp::spawn().await;
    let phone = app.user("alice").await;
    let user_id = app.user_id(&phone.access).await;
    assert_eq!(
        app.try_login("alice", "wrong password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let laptop = app.login("alice").await;
    app.delete_session(&phone.access, &laptop.session_id).await;
    app.client
        .post(app.url("/api/password"))
        .bearer_auth(&phone.access)
        .json(&json!({"current_password": PASSWORD, "new_password": "another passphrase"}))
        .send()
        .await
        .unwrap();
    app.logout_all(&phone.access).await;
    assert_eq!(
        app.audit_events(&user_id).await,
        [
            "register",
            "login",
            "login_failed",
            "login",
            "session_revoked",
            "password_changed",
            "logout_all"
        ]
    );
}

pub(crate) async fn guessing_the_current_password_is_rate_limited_like_login() {
    let app = TestApp::spawn_with(|c| c.login_attempts_per_user = 3).await;
    let phone = app.user("alice").await; // one attempt used by the login
    let change = |current: &'static str| {
        app.client
            .post(app.url("/api/password"))
            .bearer_auth(&phone.access)
            .json(&json!({"current_password": current, "new_password": "whatever12345"}))
            .send()
    };
    for _ in 0..2 {
        let r = change("a wrong guess").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = change(PASSWORD).await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Nothing changed: the old password still works once the window has passed.
    app.advance(std::time::Duration::from_secs(61));
    assert_eq!(
        app.try_login("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}
