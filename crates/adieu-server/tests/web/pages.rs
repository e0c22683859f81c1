//! What the pages say and the headers they carry.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, form_token, session_cookie};

#[tokio::test]
async fn every_page_is_no_store_framing_proof_and_loads_nothing_from_elsewhere() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    for (path, signed_in) in [
        ("/login", false),
        ("/register", false),
        ("/", true),
        ("/account", true),
        ("/activity", true),
        ("/logout", true),
    ] {
        let r = app.get(path, signed_in.then_some(cookie.as_str())).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{path}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("http"),
            "{csp}"
        );
        let html = r.text().await.unwrap();
        for external in ["src=\"http", "href=\"http", "url(", "@import"] {
            assert!(!html.contains(external), "{path} loads {external}");
        }
    }
}

#[tokio::test]
async fn every_signed_in_page_has_a_logout_button_and_the_back_forward_cache_guard() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    for path in ["/", "/account", "/activity", "/logout"] {
        let html = app.get(path, Some(&cookie)).await.text().await.unwrap();
        assert!(
            html.contains(r#"method="post" action="/logout""#),
            "{path} has no logout form"
        );
        assert!(html.contains(">Log out</button>"), "{path}");
        assert!(form_token(&html).is_some(), "{path}");
        assert!(
            html.contains("pagehide") && html.contains("location.reload()"),
            "{path}"
        );
    }
    for path in ["/login", "/register"] {
        let html = app.get(path, None).await.text().await.unwrap();
        assert!(!html.contains("pagehide"), "{path}");
    }
}

#[tokio::test]
async fn the_home_page_lists_every_session_with_device_ip_and_last_activity() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    app.login("alice").await;
    app.register("bob").await;
    let html = app.get("/", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("Hello, alice"));
    assert!(html.contains("Signed in as <strong>alice</strong>"));
    assert_eq!(html.matches(">Sign out this device</button>").count(), 2);
    assert_eq!(html.matches("This device</span>").count(), 1);
    assert!(html.contains("adieu-web-tests/1"));
    assert!(html.contains("IP 127.0.0.1"));
    assert!(html.contains("Last active <time"));
    assert!(html.contains(">Log out of all devices</button>"));
    assert!(!html.contains("bob"));
}

#[tokio::test]
async fn a_failed_login_says_only_wrong_username_or_password() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    for (username, password) in [("alice", "not the password"), ("nobody", PASSWORD)] {
        let r = app
            .post(
                "/login",
                None,
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(session_cookie(r.headers()).is_none());
        let html = r.text().await.unwrap();
        assert!(html.contains("Wrong username or password."));
        assert!(!html.contains("not the password"));
        assert!(!html.contains("unknown") && !html.contains("does not exist"));
    }
}

#[tokio::test]
async fn too_many_sign_in_attempts_get_a_429_page_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.login_attempts_per_user = 3).await;
    app.register("alice").await; // registering signs in: one attempt of the three
    let attempt = || {
        app.post(
            "/login",
            None,
            &[("username", "alice"), ("password", "not the password")],
        )
    };
    for _ in 0..2 {
        assert_eq!(attempt().await.status(), StatusCode::UNAUTHORIZED);
    }
    let r = attempt().await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(session_cookie(r.headers()).is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("Too many attempts. Try again in"), "{html}");
}

#[tokio::test]
async fn registration_refuses_taken_names_and_bad_passwords_in_words() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    let r = app
        .post(
            "/register",
            None,
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(session_cookie(r.headers()).is_none());
    assert!(r.text().await.unwrap().contains("That username is taken."));
    let r = app
        .post(
            "/register",
            None,
            &[("username", "carol"), ("password", "short")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Password must be 8 to 1024 characters long.")
    );
}

#[tokio::test]
async fn user_input_is_escaped() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/login",
            None,
            &[
                ("username", "<script>x</script>"),
                ("password", "whatever!"),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>x"));
    assert!(html.contains("&lt;script&gt;x"));
}
