//! Redirect targets: only local paths, after login and after logout.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, location};

const FOREIGN: [&str; 8] = [
    "//evil.example",
    "https://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "/\t/evil.example",
    "evil.example",
];

#[tokio::test]
async fn login_follows_only_local_next_paths() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    for (next, expected) in FOREIGN
        .iter()
        .map(|n| (*n, "/"))
        .chain([("/account", "/account"), ("/?x=1", "/?x=1")])
    {
        let r = app
            .post(
                "/login",
                None,
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&r), expected, "{next:?}");
    }
}

#[tokio::test]
async fn logout_carries_only_local_next_paths_to_the_login_page() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    for (next, expected) in FOREIGN
        .iter()
        .map(|n| (*n, "/login?logged_out=1"))
        .chain([("/account", "/login?logged_out=1&next=/account")])
    {
        let cookie = app.login("alice").await;
        let token = app.csrf(&cookie).await;
        let r = app
            .post(
                "/logout",
                Some(&cookie),
                &[("csrf", &token), ("next", next)],
            )
            .await;
        assert_eq!(location(&r), expected, "{next:?}");
    }
}

#[tokio::test]
async fn the_login_page_never_renders_a_foreign_next_into_its_form() {
    let app = TestApp::spawn().await;
    let r = app.get("/login?next=%2F%2Fevil.example", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(!html.contains("evil.example"), "{html}");
    let html = app
        .get("/login?next=%2Faccount", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<input type="hidden" name="next" value="/account">"#));
}

#[tokio::test]
async fn a_signed_out_visit_goes_to_login_and_back_to_the_page() {
    let app = TestApp::spawn().await;
    let r = app.get("/account", None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=/account");
    let r = app.get("/", None).await;
    assert_eq!(location(&r), "/login");

    let cookie = app.register("alice").await;
    // Signed in already: the login page sends the user on.
    let r = app.get("/login?next=%2Faccount", Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/account");
    let r = app
        .get("/login?next=%2F%2Fevil.example", Some(&cookie))
        .await;
    assert_eq!(location(&r), "/");
}
