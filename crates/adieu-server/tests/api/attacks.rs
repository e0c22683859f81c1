//! The attacks of the black-box review, replayed: hashing that outlived hung-up clients,
//! registration floods, IPv4-mapped clients sharing one bucket, slowloris, and the limits
//! found on the way. Each test fails on a server without the defence it names.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use adieu_core::Argon2Params;
use adieu_types::TokenResponse;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Login, PASSWORD, TestApp, assert_error};

/// Costly enough that a hash is still running when the next request arrives.
fn costly() -> Argon2Params {
    Argon2Params {
        memory_kib: 8 * 1024,
        iterations: 8,
        parallelism: 1,
    }
}

fn addr(app: &TestApp) -> SocketAddr {
    app.addr
}

/// A raw HTTP/1.1 request with a JSON body.
fn raw_post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Waits up to `limit` for the server to close `stream`; true if it did.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read_until_eof = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_until_eof).await.is_ok()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n";

/// Asks for `/healthz` on an open connection and reads the whole answer (its JSON body ends
/// with the one `}`).
async fn healthz_on(stream: &mut TcpStream) -> String {
    stream.write_all(HEALTHZ).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(b"}") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(answer).unwrap()
}

/// A client bound to one loopback address, so that tests can be several IPs.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login_from_ip(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    pw: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/api/login"))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_hang_up_mid_hash_never_free_more_than_the_hash_limit() {
    let app = TestApp::spawn_with(|c| {
        c.argon2 = costly();
        c.hash_concurrency = 1;
        c.hash_queue = 1;
    })
    .await;
    // Each client sends a registration and hangs up a moment later, while its hash runs or
    // waits. A hash must keep its place until argon2 is done with its memory.
    let hang_ups = (0..16).map(|i| {
        let addr = addr(&app);
        async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let body = json!({"username": format!("flood{i}"), "password": PASSWORD});
            let request = raw_post("/api/register", &body.to_string());
            stream.write_all(request.as_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
            drop(stream);
        }
    });
    for hang_up in hang_ups {
        hang_up.await;
    }
    let hasher = app.state().sessions.hasher().clone();
    tokio::time::timeout(Duration::from_secs(60), async {
        while hasher.stats().running > 0 || hasher.stats().admitted > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the hashes finish");
    let stats = hasher.stats();
    assert!(stats.started >= 1, "{stats:?}");
    assert_eq!(stats.peak_running, 1, "{stats:?}");
    // And the server still serves a real user.
    app.register("alice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_is_refused_before_it_costs_a_hash() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    let before = app.state().sessions.hasher().stats().started;
    for _ in 0..5 {
        let r = app
            .post_json(
                "/api/register",
                &json!({"username": "ALICE", "password": PASSWORD}),
            )
            .await;
        assert_error(r, StatusCode::CONFLICT, "username_taken").await;
    }
    assert_eq!(app.state().sessions.hasher().stats().started, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_rate_limited_per_ip_by_default() {
    // The production default, 10 a minute.
    let app = TestApp::spawn_with(|c| {
        c.registrations_per_ip = adieu_server::Config::default().registrations_per_ip;
    })
    .await;
    for i in 0..10 {
        app.register(&format!("user{i}")).await;
    }
    let r = app
        .post_json(
            "/api/register",
            &json!({"username": "user10", "password": PASSWORD}),
        )
        .await;
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Another client address has its own budget.
    let other = client_from("127.0.0.2");
    let r = other
        .post(app.url("/api/register"))
        .json(&json!({"username": "user10", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_hasher_does_not_spend_the_users_login_budget() {
    let app = TestApp::spawn_with(|c| {
        c.argon2 = costly();
        c.hash_concurrency = 1;
        c.hash_queue = 0;
        c.login_attempts_per_user = 3;
    })
    .await;
    app.register("alice").await;
    let attempts = (0..12).map(|_| app.try_login("alice", "not the password"));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    let busy = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let verified = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(busy >= 1 && verified < 3, "{statuses:?}");
    // Only the attempts that were verified count: the user still gets in.
    let r = app.try_login("alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_clients_of_a_dual_stack_listener_have_buckets_of_their_own() {
    let app = TestApp::spawn_with(|c| {
        c.listen = "[::]:0".parse().unwrap();
        c.login_attempts_per_ip = 3;
    })
    .await;
    let base = format!("http://127.0.0.1:{}", addr(&app).port());
    let attacker = client_from("127.0.0.1");
    let user = client_from("127.0.0.2");
    let r = user
        .post(format!("{base}/api/register"))
        .json(&json!({"username": "bob", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    for _ in 0..3 {
        let r = login_from_ip(&attacker, &base, "alice", "wrong password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = login_from_ip(&attacker, &base, "alice", "wrong password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another IPv4 client arrives as ::ffff:127.0.0.2: its own bucket, its own address.
    let r = login_from_ip(&user, &base, "bob", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let login = Login::from(r.json::<TokenResponse>().await.unwrap());
    let sessions: Value = user
        .get(format!("{base}/api/sessions"))
        .bearer_auth(&login.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["sessions"][0]["ip"], "127.0.0.2", "{sessions}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_completes_its_head_is_closed() {
    let app = TestApp::spawn_with(|c| c.header_timeout = Duration::from_millis(500)).await;
    // Silent.
    let mut silent = TcpStream::connect(addr(&app)).await.unwrap();
    // Trickling a header line every 100 ms: bytes keep coming, the head never ends.
    let mut trickle = TcpStream::connect(addr(&app)).await.unwrap();
    trickle
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .unwrap();
    let trickling = async {
        for i in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if trickle
                .write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return true;
            }
        }
        false
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(15), trickling)
            .await
            .unwrap(),
        "a trickled head was accepted for 10 s"
    );
    assert!(closed_within(&mut silent, Duration::from_secs(10)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed() {
    let app = TestApp::spawn_with(|c| {
        c.request_timeout = Duration::from_millis(200);
        c.connection_idle_timeout = Duration::from_millis(500);
    })
    .await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(healthz_on(&mut stream).await.starts_with("HTTP/1.1 200 OK"));
    // Kept alive, then nothing: the server lets go.
    assert!(closed_within(&mut stream, Duration::from_secs(10)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_new_connections_are_closed_and_old_ones_still_work() {
    let app = TestApp::spawn_with(|c| c.max_connections = 4).await;
    let mut kept = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(healthz_on(&mut kept).await.starts_with("HTTP/1.1 200 OK"));
    // Three more, each answered once so that it is surely accepted and counted, then idle.
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
        assert!(healthz_on(&mut stream).await.starts_with("HTTP/1.1 200 OK"));
        idle.push(stream);
    }
    let mut refused = TcpStream::connect(addr(&app)).await.unwrap();
    let _ = refused.write_all(HEALTHZ).await;
    assert!(closed_within(&mut refused, Duration::from_secs(10)).await);
    // A connection already open still answers.
    let answer = healthz_on(&mut kept).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    // Once one closes, a new connection is served again.
    drop(idle.pop());
    let served = async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let Ok(r) = app.client.get(app.url("/healthz")).send().await else {
                continue;
            };
            if r.status() == StatusCode::OK {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("a new connection is served once there is room");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_answers_in_the_json_error_format_and_nothing_is_sniffed() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/api/login")).send().await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_error(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    for r in [
        app.try_login("nobody", "whatever1").await,
        app.me("garbage").await,
        app.client.get(app.url("/nowhere")).send().await.unwrap(),
    ] {
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_messages_never_echo_what_the_client_sent() {
    let app = TestApp::spawn().await;
    let bodies = [
        r#"{"username":"alice","password":31337421337}"#,
        r#"{"username":"alice","password":"x","<script>marker</script>":1}"#,
        r#"{"username":["31337421337"],"password":"x"}"#,
        r#"{"username":"alice","password":"31337421337"#,
    ];
    for body in bodies {
        let r = app
            .client
            .post(app.url("/api/login"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{body}");
        let text = r.text().await.unwrap();
        assert!(
            !text.contains("31337421337") && !text.contains("marker"),
            "{body} -> {text}"
        );
    }
    let r = app
        .client
        .post(app.url("/api/logout"))
        .header("content-type", "application/json")
        .body(r#"{"refresh_token":31337421337}"#)
        .send()
        .await
        .unwrap();
    assert!(!r.text().await.unwrap().contains("31337421337"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_tells_the_public_only_readiness_and_the_backend() {
    let app = TestApp::spawn().await;
    let body: Value = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"status": "ok", "backend": "sqlite"}));
    // The details are for operators, on their own listener.
    assert_eq!(
        app.client
            .get(app.url("/status"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_listener_reports_the_cache_and_the_public_one_does_not() {
    let app = TestApp::spawn_with(|c| c.admin_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let admin = app.admin_addr.expect("an admin listener");
    let login = app.user("alice").await;
    assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
    assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
    let status: Value = app
        .client
        .get(format!("http://{admin}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "ok");
    assert_eq!(status["cache"], "serving");
    assert!(status["cache_hits"].as_u64().unwrap() >= 1, "{status}");
    // The public API is not on the operators' listener.
    let r = app
        .client
        .get(format!("http://{admin}/api/me"))
        .bearer_auth(&login.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

pub(crate) async fn a_login_past_the_session_cap_ends_the_oldest_session() {
    let app = TestApp::spawn_with(|c| c.max_sessions_per_user = 3).await;
    app.register("alice").await;
    let mut logins = Vec::new();
    for _ in 0..4 {
        logins.push(app.login("alice").await);
        app.advance(Duration::from_secs(1));
    }
    assert_eq!(
        app.me_status(&logins[0].access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&logins[0].refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for login in &logins[1..] {
        assert_eq!(app.me_status(&login.access).await, StatusCode::OK);
    }
    assert_eq!(app.sessions(&logins[3].access).await.len(), 3);
    let user = app.user_id(&logins[3].access).await;
    let events = app.audit_events(&user).await;
    assert_eq!(
        events.iter().filter(|e| *e == "session_limit").count(),
        1,
        "{events:?}"
    );
}

pub(crate) async fn audit_events_past_their_retention_are_deleted() {
    let app = TestApp::spawn_with(|c| c.audit_retention = Duration::from_secs(24 * 3600)).await;
    let old = app.user("alice").await;
    let alice = app.user_id(&old.access).await;
    app.advance(Duration::from_secs(23 * 3600));
    let recent = app.user("bob").await;
    let bob = app.user_id(&recent.access).await;
    app.advance(Duration::from_secs(2 * 3600));
    let deleted = app.state().sessions.delete_old_audit(1).await.unwrap();
    assert_eq!(deleted, 2, "alice's register and login");
    assert!(app.audit_events(&alice).await.is_empty());
    assert_eq!(app.audit_events(&bob).await, ["register", "login"]);
}

pub(crate) async fn one_ip_guessing_a_password_cannot_lock_the_user_out_elsewhere() {
    let app = TestApp::spawn_with(|c| {
        c.login_attempts_per_user = 3;
        c.login_attempts_per_user_total = 8;
    })
    .await;
    app.register("alice").await;
    let attacker = client_from("127.0.0.3");
    for _ in 0..3 {
        let r = login_from_ip(&attacker, &app.base(), "alice", "guess one").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = login_from_ip(&attacker, &app.base(), "alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Alice, elsewhere, is not locked out by it.
    let r = login_from_ip(&client_from("127.0.0.4"), &app.base(), "alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Guessing from many addresses meets the per-user ceiling: 4 spent so far, 4 more.
    for ip in ["127.0.0.5", "127.0.0.6"] {
        for _ in 0..2 {
            let r = login_from_ip(&client_from(ip), &app.base(), "alice", "guess two").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
    }
    let r = login_from_ip(&client_from("127.0.0.7"), &app.base(), "alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A login from a client that a proxy on this machine names in `X-Forwarded-For`.
async fn login_forwarded_for(app: &TestApp, forwarded: &str, pw: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/login"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"username": "alice", "password": pw}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = TestApp::spawn_with(|c| {
        c.login_attempts_per_ip = 2;
        c.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    app.register("alice").await;
    for _ in 0..2 {
        let r = login_forwarded_for(&app, "203.0.113.1", "wrong password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = login_forwarded_for(&app, "203.0.113.1", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not limited by the first one's guesses.
    let r = login_forwarded_for(&app, "198.51.100.1, 203.0.113.2", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let login = Login::from(r.json::<TokenResponse>().await.unwrap());
    let sessions = app.sessions(&login.access).await;
    assert_eq!(sessions[0].ip.as_deref(), Some("203.0.113.2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusted_proxies_a_forwarded_header_changes_nothing() {
    let app = TestApp::spawn_with(|c| c.login_attempts_per_ip = 2).await;
    app.register("alice").await;
    for forwarded in ["203.0.113.1", "203.0.113.2"] {
        let r = login_forwarded_for(&app, forwarded, "wrong password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Both counted against the one real peer.
    let r = login_forwarded_for(&app, "203.0.113.3", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    app.advance(Duration::from_secs(61));
    let r = login_forwarded_for(&app, "203.0.113.3", PASSWORD).await;
    let login = Login::from(r.json::<TokenResponse>().await.unwrap());
    assert_eq!(
        app.sessions(&login.access).await[0].ip.as_deref(),
        Some("127.0.0.1")
    );
}
