//! Faults: a node that loses its listener, a node that stops, a database that goes away.

use std::time::{Duration, Instant};

use adieu_store::test_support::TempDatabase;
use reqwest::StatusCode;

use crate::node::{Api, LEASE, Node, cache_hits};

/// What a logout may take at worst: one lease, plus scheduling slack for a loaded machine.
fn lease_bound() -> Duration {
    LEASE + Duration::from_secs(2)
}

async fn serving(api: &Api, node: &Node) -> serde_json::Value {
    api.wait_for_health(node, Duration::from_secs(15), |s, h| {
        s == StatusCode::OK && h["cache"] == "serving"
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn a_node_that_loses_its_listener_never_accepts_a_revoked_token_and_recovers() {
    let db = TempDatabase::create().await;
    let api = Api::new();
    let (a, c) = tokio::join!(Node::start(db.url(), &[]), Node::start(db.url(), &[]));
    serving(&api, &a).await;
    let health = serving(&api, &c).await;
    let listener = format!("adieu-listener-{}", health["node_id"].as_str().unwrap());

    for round in 0..5 {
        api.register(&a, &format!("user{round}")).await;
        let login = api.login(&a, &format!("user{round}")).await;
        assert_eq!(api.me(&c, &login.access).await, StatusCode::OK);
        assert_eq!(api.me(&c, &login.access).await, StatusCode::OK);

        db.admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{listener}'"
        ))
        .await
        .unwrap();
        let started = Instant::now();
        assert_eq!(
            api.post(&a, "/api/logout", &login.access).await,
            StatusCode::OK
        );
        let took = started.elapsed();
        assert!(
            took < lease_bound(),
            "logout took {took:?} with a node cut off"
        );
        assert_eq!(
            api.me(&c, &login.access).await,
            StatusCode::UNAUTHORIZED,
            "round {round}"
        );

        // C comes back, resynchronises and serves from memory again.
        let before = cache_hits(&serving(&api, &c).await);
        let fresh = api.login(&a, &format!("user{round}")).await;
        for _ in 0..3 {
            assert_eq!(api.me(&c, &fresh.access).await, StatusCode::OK);
        }
        let (_, after) = api.health(&c).await;
        assert!(
            cache_hits(&after) > before,
            "C does not serve from its cache again: {after}"
        );
        api.post(&a, "/api/logout", &fresh.access).await;
        assert_eq!(api.me(&c, &fresh.access).await, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn a_stopped_node_holds_up_logout_only_until_its_lease_ends() {
    let db = TempDatabase::create().await;
    let api = Api::new();
    let (a, c) = tokio::join!(Node::start(db.url(), &[]), Node::start(db.url(), &[]));
    serving(&api, &a).await;
    serving(&api, &c).await;
    api.register(&a, "alice").await;
    let login = api.login(&a, "alice").await;
    assert_eq!(api.me(&c, &login.access).await, StatusCode::OK);
    assert_eq!(api.me(&c, &login.access).await, StatusCode::OK);

    c.signal("STOP");
    let started = Instant::now();
    let status = api.post(&a, "/api/logout", &login.access).await;
    let took = started.elapsed();
    c.signal("CONT");
    assert_eq!(status, StatusCode::OK);
    assert!(
        took < lease_bound(),
        "logout took {took:?} with a node stopped"
    );

    // Thawed, C has a cache full of entries it cannot trust: it must refuse the token.
    assert_eq!(api.me(&c, &login.access).await, StatusCode::UNAUTHORIZED);
    // Later logouts do not wait for it any more than for anyone else.
    serving(&api, &c).await;
    let next = api.login(&a, "alice").await;
    assert_eq!(api.me(&c, &next.access).await, StatusCode::OK);
    let started = Instant::now();
    assert_eq!(
        api.post(&a, "/api/logout", &next.access).await,
        StatusCode::OK
    );
    assert!(started.elapsed() < lease_bound());
    assert_eq!(api.me(&c, &next.access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn healthz_reports_not_ready_while_the_database_is_unreachable() {
    let db = TempDatabase::create().await;
    let api = Api::new();
    let node = Node::start(db.url(), &[]).await;
    serving(&api, &node).await;
    // Refuse new connections to the node's database and cut the existing ones.
    db.admin(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS false",
        db.name()
    ))
    .await
    .unwrap();
    db.admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        db.name()
    ))
    .await
    .unwrap();
    let down = api
        .wait_for_health(&node, Duration::from_secs(15), |s, _| {
            s == StatusCode::SERVICE_UNAVAILABLE
        })
        .await;
    assert_eq!(down["status"], "unavailable");
    assert_eq!(api.healthz(&node).await, StatusCode::SERVICE_UNAVAILABLE);
    db.admin(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        db.name()
    ))
    .await
    .unwrap();
    let up = api
        .wait_for_health(&node, Duration::from_secs(15), |s, _| s == StatusCode::OK)
        .await;
    assert_eq!(up["database"], "up");
    assert_eq!(up["notifications"], "up");
    assert_eq!(api.healthz(&node).await, StatusCode::OK);
}
