//! Logging out: what the response does, what stays refused afterwards, and the ways to end
//! other sessions.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, location};

#[tokio::test]
async fn get_logout_changes_nothing_and_offers_the_form() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    let r = app.get("/logout", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.headers().get("clear-site-data").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<form class="inline" method="post" action="/logout">"#));
    assert!(html.contains("Log out?"));
    assert!(app.is_signed_in(&cookie).await);
}

#[tokio::test]
async fn logout_ends_the_session_expires_the_cookie_and_clears_site_data() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    let token = app.csrf(&cookie).await;
    let r = app
        .post("/logout", Some(&cookie), &[("csrf", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?logged_out=1");
    let set = r.headers()["set-cookie"].to_str().unwrap();
    assert!(set.starts_with("__Host-adieu_session=;"), "{set}");
    for attribute in ["Max-Age=0", "Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    assert_eq!(
        r.headers()["clear-site-data"],
        r#""cache", "cookies", "storage""#
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    // Ended on the server, before the response: the very next request is refused.
    assert!(app.session_id(&cookie).await.is_none());
    let page = app.get("/login?logged_out=1", None).await;
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("You have been logged out")
    );
}

#[tokio::test]
async fn the_old_cookie_is_refused_when_replayed_after_logout() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    let other = app.login("alice").await;
    let token = app.csrf(&cookie).await;
    app.post("/logout", Some(&cookie), &[("csrf", &token)])
        .await;

    let r = app.get("/", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    let r = app.get("/account", Some(&cookie)).await;
    assert_eq!(location(&r), "/login?next=/account");
    // Nor can it act for the user any more.
    let r = app
        .post("/logout/all", Some(&cookie), &[("csrf", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"));
    assert!(app.is_signed_in(&other).await);
    let other_id = app.session_id(&other).await.unwrap();
    let r = app
        .post(
            &format!("/sessions/{other_id}/sign-out"),
            Some(&cookie),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(location(&r), "/login");
    assert!(app.is_signed_in(&other).await);
}

#[tokio::test]
async fn a_logout_without_a_cookie_touches_nothing() {
    let app = TestApp::spawn().await;
    let r = app.post("/logout", None, &[("csrf", "x")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?logged_out=1");
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.headers().get("clear-site-data").is_none());
}

#[tokio::test]
async fn clear_site_data_is_configurable_and_can_be_switched_off() {
    for (configured, sent) in [
        (r#""cache", "storage""#, Some(r#""cache", "storage""#)),
        ("", None),
    ] {
        let app = TestApp::spawn_with(|c| c.clear_site_data = configured.to_owned()).await;
        let cookie = app.register("alice").await;
        let token = app.csrf(&cookie).await;
        let r = app
            .post("/logout", Some(&cookie), &[("csrf", &token)])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()
                .get("clear-site-data")
                .map(|v| v.to_str().unwrap()),
            sent
        );
        assert!(
            r.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }
}

#[tokio::test]
async fn logout_of_all_devices_ends_every_session_of_the_user_and_only_theirs() {
    let app = TestApp::spawn().await;
    let laptop = app.register("alice").await;
    let phone = app.login("alice").await;
    let bob = app.register("bob").await;
    let api = app
        .client
        .post(app.url("/api/login"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let access = api["access_token"].as_str().unwrap().to_owned();

    let token = app.csrf(&laptop).await;
    let r = app
        .post("/logout/all", Some(&laptop), &[("csrf", &token)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?logged_out=all");
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(r.headers().get("clear-site-data").is_some());

    assert!(!app.is_signed_in(&laptop).await);
    assert!(!app.is_signed_in(&phone).await);
    let me = app
        .client
        .get(app.url("/api/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert!(app.is_signed_in(&bob).await);
}

#[tokio::test]
async fn sign_out_this_device_ends_only_the_chosen_session_of_ones_own() {
    let app = TestApp::spawn().await;
    let laptop = app.register("alice").await;
    let phone = app.login("alice").await;
    let tablet = app.login("alice").await;
    let bob = app.register("bob").await;
    let token = app.csrf(&laptop).await;
    let phone_id = app.session_id(&phone).await.unwrap();
    let home = app.get("/", Some(&laptop)).await.text().await.unwrap();
    assert!(home.contains(&format!(r#"action="/sessions/{phone_id}/sign-out""#)));

    let r = app
        .post(
            &format!("/sessions/{phone_id}/sign-out"),
            Some(&laptop),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/?signed_out=1");
    assert!(r.headers().get("set-cookie").is_none());
    assert!(!app.is_signed_in(&phone).await);
    assert!(app.is_signed_in(&laptop).await);
    assert!(app.is_signed_in(&tablet).await);

    // Someone else's session is not found, and stays alive.
    let bob_id = app.session_id(&bob).await.unwrap();
    let r = app
        .post(
            &format!("/sessions/{bob_id}/sign-out"),
            Some(&laptop),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(app.is_signed_in(&bob).await);

    // Signing out the device in hand is a logout.
    let laptop_id = app.session_id(&laptop).await.unwrap();
    let r = app
        .post(
            &format!("/sessions/{laptop_id}/sign-out"),
            Some(&laptop),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(location(&r), "/login?logged_out=1");
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(!app.is_signed_in(&laptop).await);
    assert!(app.is_signed_in(&tablet).await);
}

#[tokio::test]
async fn a_password_change_on_the_account_page_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let laptop = app.register("alice").await;
    let phone = app.login("alice").await;
    let token = app.csrf(&laptop).await;
    let change = |current: &'static str| {
        [
            ("csrf", token.clone()),
            ("current_password", current.to_owned()),
            ("new_password", "a brand new password".to_owned()),
        ]
    };

    let wrong = change("not my password");
    let wrong: Vec<_> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.post("/account/password", Some(&laptop), &wrong).await;
    assert_eq!(location(&r), "/account?error=wrong_password");
    assert!(app.is_signed_in(&phone).await);
    let page = app
        .get("/account?error=wrong_password", Some(&laptop))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Your current password was not right"));

    let right = change(PASSWORD);
    let right: Vec<_> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.post("/account/password", Some(&laptop), &right).await;
    assert_eq!(location(&r), "/account?changed=1");
    assert!(!app.is_signed_in(&phone).await);
    assert!(app.is_signed_in(&laptop).await);
    let r = app
        .post(
            "/login",
            None,
            &[("username", "alice"), ("password", "a brand new password")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_web_sessions_too() {
    let app = TestApp::spawn().await;
    let policy = *app.state().sessions.policy();
    let idle = app.register("alice").await;
    app.clock
        .advance(policy.idle_timeout + Duration::from_secs(1));
    assert!(!app.is_signed_in(&idle).await);

    let busy = app.login("alice").await;
    let step = policy.idle_timeout / 2;
    let mut elapsed = Duration::ZERO;
    while elapsed + step < policy.absolute_timeout {
        assert!(app.is_signed_in(&busy).await, "ended early at {elapsed:?}");
        app.clock.advance(step);
        elapsed += step;
    }
    app.clock
        .advance(policy.absolute_timeout - elapsed + Duration::from_secs(1));
    assert!(!app.is_signed_in(&busy).await);
}
