//! The session cookie: attributes, opacity, fixation.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, session_cookie};

#[tokio::test]
async fn login_sets_an_opaque_host_prefixed_http_only_lax_secure_cookie() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    let r = app
        .post(
            "/login",
            None,
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    assert_eq!(set.len(), 1, "{set:?}");
    let set = set[0].to_str().unwrap();
    let (pair, attributes) = set.split_once(';').unwrap();
    let (name, value) = pair.split_once('=').unwrap();
    assert_eq!(name, "__Host-adieu_session");
    assert!(value.starts_with("adieu_ck_") && value.len() == "adieu_ck_".len() + 43);
    let mut attributes: Vec<_> = attributes.split(';').map(str::trim).collect();
    attributes.sort_unstable();
    assert_eq!(attributes, ["HttpOnly", "Path=/", "SameSite=Lax", "Secure"]);
}

#[tokio::test]
async fn only_the_hash_of_the_cookie_is_stored() {
    let app = TestApp::spawn().await;
    let cookie = app.register("alice").await;
    assert!(app.is_signed_in(&cookie).await);
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(app.dir()).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(!stored.is_empty());
    let secret_part = &cookie["adieu_ck_".len()..];
    assert!(
        !stored
            .windows(secret_part.len())
            .any(|w| w == secret_part.as_bytes()),
        "the cookie value is in the database files"
    );
}

#[tokio::test]
async fn every_login_starts_a_new_session_and_ends_the_one_it_replaces() {
    let app = TestApp::spawn().await;
    let first = app.register("alice").await;
    let first_id = app.session_id(&first).await.unwrap();
    // A login from a browser that still holds a session cookie (a fixation attempt would
    // plant one): the cookie is never reused and the old session does not linger.
    let r = app
        .post(
            "/login",
            Some(&first),
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let second = session_cookie(r.headers()).unwrap();
    assert_ne!(second, first);
    let second_id = app.session_id(&second).await.unwrap();
    assert_ne!(second_id, first_id);
    assert!(app.session_id(&first).await.is_none());
    assert!(app.is_signed_in(&second).await);
}

#[tokio::test]
async fn registering_a_new_account_ends_the_session_the_browser_held() {
    let app = TestApp::spawn().await;
    let first = app.register("alice").await;
    assert!(app.is_signed_in(&first).await);
    let r = app
        .post(
            "/register",
            Some(&first),
            &[("username", "bob"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let second = session_cookie(r.headers()).unwrap();
    assert!(app.is_signed_in(&second).await);
    // Alice's session does not linger behind Bob's in the same browser.
    assert!(!app.is_signed_in(&first).await);
    assert!(app.session_id(&first).await.is_none());
}

#[tokio::test]
async fn insecure_cookies_drop_secure_and_the_host_prefix() {
    let app = TestApp::spawn_with(|c| c.secure_cookies = false).await;
    let r = app
        .post(
            "/register",
            None,
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("adieu_session=adieu_ck_"), "{set}");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"));
    assert!(!set.contains("Secure"), "{set}");
    let value = set.split(';').next().unwrap();
    let home = app
        .client
        .get(app.url("/"))
        .header("cookie", value)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
}
