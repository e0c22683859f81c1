//! Forged requests: refused with 403, without a `Set-Cookie`, and without effect.

use reqwest::{Response, StatusCode};

use crate::helpers::{PASSWORD, TestApp};

const CROSS_SITE: [(&str, &str); 2] = [
    ("origin", "http://evil.example"),
    ("sec-fetch-site", "cross-site"),
];

fn assert_refused(r: &Response) {
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Chromium applies a cookie deletion even from a forged request that arrived without the
    // cookie, so a refusal must not carry one.
    assert!(r.headers().get("set-cookie").is_none(), "{:?}", r.headers());
    assert!(r.headers().get("clear-site-data").is_none());
}

#[tokio::test]
async fn a_cross_site_logout_is_refused_with_403_and_no_set_cookie() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    let token = app.csrf(&cookie).await;
    // Even with the cookie and the right token (which another site cannot have).
    let r = app
        .post_with("/logout", Some(&cookie), &[("csrf", &token)], &CROSS_SITE)
        .await;
    assert_refused(&r);
    // And without the cookie, as a SameSite=Lax browser would send it.
    let r = app
        .post_with("/logout", None, &[("csrf", "x")], &CROSS_SITE)
        .await;
    assert_refused(&r);
    assert!(app.is_signed_in(&cookie).await);
}

#[tokio::test]
async fn a_sibling_origin_of_the_same_site_is_refused_too() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    let token = app.csrf(&cookie).await;
    let sibling = [
        ("origin", "http://127.0.0.1:1"),
        ("sec-fetch-site", "same-site"),
    ];
    let r = app
        .post_with("/logout", Some(&cookie), &[("csrf", &token)], &sibling)
        .await;
    assert_refused(&r);
    // A browser without fetch metadata: the Origin alone decides.
    let r = app
        .post_with(
            "/logout",
            Some(&cookie),
            &[("csrf", &token)],
            &[("origin", "http://127.0.0.1:1")],
        )
        .await;
    assert_refused(&r);
    let r = app
        .post_with(
            "/logout",
            Some(&cookie),
            &[("csrf", &token)],
            &[("origin", "null")],
        )
        .await;
    assert_refused(&r);
    assert!(app.is_signed_in(&cookie).await);
}

#[tokio::test]
async fn a_logout_without_the_right_synchronizer_token_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let bobs_token = app.csrf(&bob).await;
    for form in [
        vec![],
        vec![("csrf", "")],
        vec![("csrf", "not-the-token")],
        vec![("csrf", bobs_token.as_str())],
    ] {
        let r = app.post("/logout", Some(&alice), &form).await;
        assert_refused(&r);
    }
    // Without any browser header the token alone still decides.
    let r = app
        .post_with("/logout", Some(&alice), &[("csrf", &bobs_token)], &[])
        .await;
    assert_refused(&r);
    assert!(app.is_signed_in(&alice).await);
    assert!(app.is_signed_in(&bob).await);
}

#[tokio::test]
async fn every_signed_in_form_is_protected_the_same_way() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let other = app.login("alice").await;
    let token = app.csrf(&alice).await;
    let other_id = app.session_id(&other).await.unwrap();
    let sign_out = format!("/sessions/{other_id}/sign-out");
    let form = |path: &str, token: &str| -> Vec<(String, String)> {
        let mut form = vec![("csrf".to_owned(), token.to_owned())];
        if path == "/account/password" {
            form.push(("current_password".into(), PASSWORD.into()));
            form.push(("new_password".into(), "a brand new password".into()));
        }
        form
    };
    for path in ["/logout/all", sign_out.as_str(), "/account/password"] {
        for (token, headers) in [
            (token.as_str(), &CROSS_SITE[..]),
            ("wrong", &[][..]),
            ("", &[][..]),
        ] {
            let fields = form(path, token);
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = if headers.is_empty() {
                app.post(path, Some(&alice), &fields).await
            } else {
                app.post_with(path, Some(&alice), &fields, headers).await
            };
            assert_refused(&r);
        }
    }
    assert!(app.is_signed_in(&alice).await);
    assert!(app.is_signed_in(&other).await);
    // The password did not change either.
    app.login("alice").await;
}

#[tokio::test]
async fn cross_site_login_and_registration_are_refused() {
    let app = TestApp::spawn().await;
    app.register("mallory").await;
    let credentials = [("username", "mallory"), ("password", PASSWORD)];
    let r = app
        .post_with("/login", None, &credentials, &CROSS_SITE)
        .await;
    assert_refused(&r);
    let r = app
        .post_with(
            "/register",
            None,
            &[("username", "mallory2"), ("password", PASSWORD)],
            &CROSS_SITE,
        )
        .await;
    assert_refused(&r);
    assert!(
        app.state()
            .sessions
            .storage()
            .store()
            .user_by_name("mallory2")
            .await
            .unwrap()
            .is_none()
    );
}
