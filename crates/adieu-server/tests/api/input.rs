use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, assert_error};

pub(crate) async fn registration_validates_names_and_password_lengths() {
    let app = TestApp::spawn().await;
    for (username, password) in [
        ("", PASSWORD),
        ("has space", PASSWORD),
        ("ünicode", PASSWORD),
        (&"x".repeat(65) as &str, PASSWORD),
        ("alice", "short"),
        ("alice", &"p".repeat(1025) as &str),
    ] {
        let r = app
            .post_json(
                "/api/register",
                &json!({"username": username, "password": password}),
            )
            .await;
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    app.register("alice").await;
    let r = app
        .post_json(
            "/api/register",
            &json!({"username": "ALICE", "password": PASSWORD}),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "username_taken").await;
}

pub(crate) async fn an_unknown_user_and_a_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    let wrong = app.try_login("alice", "not the password").await;
    let unknown = app.try_login("mallory", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let (wrong, unknown) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(wrong, unknown);
    assert!(wrong.contains("invalid_credentials"));
}

async fn send_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    // A server that refuses an oversized body answers 413 and closes without reading the
    // rest; the client can then see the reset before the answer. Such a send is retried: the
    // assertion is about the answer, which must come, and must be a 413. Every send has a
    // connection of its own: a pooled one that such a 413 closed could otherwise be reused
    // by the next case and fail it for a reason that is not the server's answer.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    for _ in 0..10 {
        let mut req = client.post(app.url(path)).body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        match req.send().await {
            Ok(response) => return response,
            Err(_) if body.len() > 64 * 1024 => continue,
            Err(e) => panic!("{path}: {e}"),
        }
    }
    panic!("{path}: the server never answered the oversized body");
}

pub(crate) async fn malformed_bodies_get_a_clear_4xx_never_a_5xx() {
    let app = TestApp::spawn().await;
    let json = Some("application/json");
    let cases: Vec<(&str, Option<&str>, Vec<u8>, StatusCode)> = vec![
        (
            "/api/login",
            json,
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        ("/api/login", json, b"".to_vec(), StatusCode::BAD_REQUEST),
        (
            "/api/login",
            json,
            b"[]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/login",
            json,
            br#"["a","correct horse battery staple"]"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/logout",
            json,
            b"[]".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/login",
            json,
            br#"{"username":"a"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/login",
            json,
            br#"{"username":"a","password":"b","admin":true}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/login",
            json,
            b"{\"username\":\"\xff\xfe\",\"password\":\"x\"}".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/login",
            Some("text/plain"),
            br#"{"username":"a","password":"b"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "/api/login",
            None,
            br#"{"username":"a","password":"b"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "/api/register",
            json,
            vec![b' '; 200 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "/api/token/refresh",
            json,
            br#"{"refresh_token":42}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/logout",
            Some("text/plain"),
            b"refresh_token=x".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "/api/logout",
            json,
            b"{\"refresh_token\":".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (path, content_type, body, expected) in cases {
        let r = send_raw(&app, path, content_type, body.clone()).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(
            status,
            expected,
            "{path} {content_type:?} {:?}: {text}",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["error"], "invalid_request", "{text}");
    }
}

pub(crate) async fn hostile_authorization_headers_are_refused_with_401() {
    let app = TestApp::spawn().await;
    let login = app.user("alice").await;
    let huge = format!("Bearer {}", "a".repeat(64 * 1024));
    let headers: Vec<reqwest::header::HeaderValue> = vec![
        huge.parse().unwrap(),
        "Basic YWxpY2U6cGFzc3dvcmQ=".parse().unwrap(),
        "Bearer".parse().unwrap(),
        "Bearer ".parse().unwrap(),
        reqwest::header::HeaderValue::from_bytes(b"Bearer adieu_at_\xff\xfe").unwrap(),
        format!("Bearer {}", login.refresh).parse().unwrap(),
        format!("Bearer {}x", login.access).parse().unwrap(),
    ];
    for value in headers {
        let r = app
            .client
            .get(app.url("/api/me"))
            .header("authorization", value.clone())
            .send()
            .await
            .unwrap();
        assert_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // The scheme is case-insensitive.
    let r = app
        .client
        .get(app.url("/api/me"))
        .header("authorization", format!("bearer {}", login.access))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

pub(crate) async fn every_response_forbids_caching() {
    let app = TestApp::spawn().await;
    let login = app.user("alice").await;
    let responses = [
        app.try_login("alice", PASSWORD).await,
        app.me(&login.access).await,
        app.me("garbage").await,
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        app.client
            .get(app.url("/no/such/page"))
            .send()
            .await
            .unwrap(),
    ];
    for r in responses {
        assert_eq!(r.headers()["cache-control"], "no-store", "{}", r.url());
    }
}

pub(crate) async fn login_attempts_are_rate_limited_per_username_and_per_ip() {
    let app = TestApp::spawn_with(|c| {
        c.login_attempts_per_user = 3;
        c.login_attempts_per_ip = 6;
    })
    .await;
    app.register("alice").await;
    for _ in 0..3 {
        assert_eq!(
            app.try_login("alice", "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.try_login("alice", PASSWORD).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Every attempt counts against the IP, the refused one too: two more, then the IP limit.
    assert_eq!(
        app.try_login("bob", "whatever1").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.try_login("carol", "whatever1").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_error(
        app.try_login("dave", "whatever1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // A minute later the windows have passed.
    app.advance(std::time::Duration::from_secs(61));
    assert_eq!(
        app.try_login("alice", PASSWORD).await.status(),
        StatusCode::OK
    );
}

pub(crate) async fn a_saturated_hasher_answers_429_with_retry_after_instead_of_queueing() {
    // One hash at a time and no queue; real cost so that the first one is still running.
    let app = TestApp::spawn_with(|c| {
        c.hash_concurrency = 1;
        c.hash_queue = 0;
        c.argon2 = adieu_core::Argon2Params {
            memory_kib: 8 * 1024,
            iterations: 8,
            parallelism: 1,
        };
    })
    .await;
    let attempts =
        (0..8).map(|i| app.try_login(if i == 0 { "alice" } else { "bob" }, "some password"));
    let responses = futures_util::future::join_all(attempts).await;
    let limited: Vec<_> = responses
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        !limited.is_empty(),
        "{:?}",
        responses.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    for r in &limited {
        assert_eq!(r.headers()["retry-after"], "1");
    }
    for r in &responses {
        assert!(
            r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::TOO_MANY_REQUESTS
        );
    }
}

pub(crate) async fn a_request_that_times_out_still_forbids_caching() {
    let app = TestApp::spawn_with(|c| {
        c.request_timeout = std::time::Duration::from_millis(50);
        c.refresh_delay = std::time::Duration::from_millis(500);
    })
    .await;
    let login = app.user("alice").await;
    let r = app.refresh(&login.refresh).await;
    assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(r.headers()["cache-control"], "no-store");
}
