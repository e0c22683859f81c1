//! The account as a whole on the pages: its recent activity, and deleting it.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, form_token, location, session_cookie};

#[tokio::test]
async fn the_activity_page_shows_this_users_events_and_no_one_elses() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let _bob = app.register("bob").await;
    // A failed attempt at Bob's account, from a device of its own.
    let r = app
        .client
        .post(app.url("/login"))
        .header("origin", app.base())
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
        )
        .form(&[("username", "bob"), ("password", "not-the-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the form again, with a notice"
    );
    let html = app
        .get("/activity", Some(&alice))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Recent activity"), "{html}");
    assert!(html.contains(r#"data-event="login""#), "{html}");
    assert!(html.contains(r#"data-event="register""#));
    assert!(html.contains("127.0.0.1"));
    assert!(
        !html.contains(r#"data-event="login_failed""#),
        "Bob's failure is not Alice's"
    );
    assert!(!html.contains("Firefox"));
    let r = app.get("/activity", None).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "signed out: to the login page"
    );
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_the_box_then_ends_everything() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    let other_device = app.login("alice").await;
    let account = app
        .get("/account", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(account.contains(r#"action="/account/delete""#), "{account}");
    let csrf = form_token(&account).unwrap();
    // Without the box ticked, or with a wrong password, nothing happens.
    for (password, confirm, error) in [
        (PASSWORD, None, "not_confirmed"),
        ("not-the-password", Some("yes"), "wrong_delete_password"),
    ] {
        let mut form = vec![("csrf", csrf.as_str()), ("password", password)];
        if let Some(confirm) = confirm {
            form.push(("confirm", confirm));
        }
        let r = app.post("/account/delete", Some(&cookie), &form).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r), format!("/account?error={error}"));
        assert!(app.is_signed_in(&cookie).await);
    }
    // A forged form (no synchronizer token) is refused before anything is checked.
    let r = app
        .post(
            "/account/delete",
            Some(&cookie),
            &[("password", PASSWORD), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .post(
            "/account/delete",
            Some(&cookie),
            &[("csrf", &csrf), ("password", PASSWORD), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?logged_out=deleted");
    // The browser is told to forget the session, as at a logout.
    assert_eq!(session_cookie(r.headers()), None);
    assert!(r.headers().contains_key("clear-site-data"));
    let expired = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().contains("Max-Age=0"));
    assert!(expired);
    for c in [&cookie, &other_device] {
        assert!(!app.is_signed_in(c).await);
    }
    let login = app
        .post(
            "/login",
            None,
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        login.status(),
        StatusCode::UNAUTHORIZED,
        "the form again: no such account"
    );
    let page = app
        .get("/login?logged_out=deleted", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Your account has been deleted"));
}
