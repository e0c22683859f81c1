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

/// The open-redirect tricks of forward-auth deployments, against a cookie domain.
const TRICKS: [&str; 14] = [
    "//evil.com",
    "https://evil.com/",
    "https://example.com.evil.com/",
    "https://evil.com\\@example.com/",
    "https://evil.com\\@app.example.com/",
    "https://user@app.example.com/",
    "https://user:pw@app.example.com/",
    "javascript:alert(1)",
    "javascript://app.example.com/%0aalert(1)",
    "%2F%2Fevil.com",
    "https%3A%2F%2Fevil.com",
    "https://app.example.com%2eevil.com/",
    "https://app.example.com%2F@evil.com/",
    "http:evil.com",
];

async fn with_cookie_domain() -> TestApp {
    TestApp::spawn_with(|c| {
        c.cookie_domain = Some("example.com".into());
        c.redirect_hosts = vec!["partner.example.org".into()];
    })
    .await
}

#[tokio::test]
async fn after_login_rd_goes_back_to_the_cookie_domain_and_listed_hosts_only() {
    let app = with_cookie_domain().await;
    app.register("alice").await;
    let back = [
        (
            "https://app.example.com/orders?id=7",
            "https://app.example.com/orders?id=7",
        ),
        (
            "https://partner.example.org/",
            "https://partner.example.org/",
        ),
    ];
    for (rd, expected) in TRICKS.iter().map(|t| (*t, "/")).chain(back) {
        // The login page carries rd into its form...
        let page = app
            .get(&format!("/login?rd={}", urlencode(rd)), None)
            .await
            .text()
            .await
            .unwrap();
        let carried = expected != "/";
        assert_eq!(page.contains(r#"name="next""#), carried, "{rd:?}");
        // ...and the login follows it only where it may.
        let r = app
            .post(
                "/login",
                None,
                &[("username", "alice"), ("password", PASSWORD), ("next", rd)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{rd:?}");
        assert_eq!(location(&r), expected, "{rd:?}");
    }
}

#[tokio::test]
async fn an_apps_logout_link_ends_the_session_and_returns_to_the_app() {
    let app = with_cookie_domain().await;
    let cookie = app.register("alice").await;
    let page = app
        .get(
            &format!("/logout?rd={}", urlencode("https://app.example.com/")),
            Some(&cookie),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"name="next" value="https://app.example.com/""#),
        "{page}"
    );
    let token = app.csrf(&cookie).await;
    let r = app
        .post(
            "/logout",
            Some(&cookie),
            &[("csrf", &token), ("next", "https://app.example.com/")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "https://app.example.com/");
    assert!(!app.is_signed_in(&cookie).await);
    // A foreign rd falls back to the login page.
    let cookie = app.login("alice").await;
    let token = app.csrf(&cookie).await;
    let r = app
        .post(
            "/logout",
            Some(&cookie),
            &[("csrf", &token), ("next", "https://example.com.evil.com/")],
        )
        .await;
    assert_eq!(location(&r), "/login?logged_out=1");
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
