//! Faults: a node that loses its listener, a node that stops, a database that goes away.
//!
//! No test here measures how long a logout took: on a shared machine any bound is either
//! loose enough to prove nothing or tight enough to flake. They claim orders and outcomes
//! instead. A logout that never answered would fail at the client's timeout, which only
//! keeps the suite from hanging.

use std::time::Duration;

use adieu_store::test_support::TempDatabase;
use reqwest::StatusCode;
use sqlx::postgres::PgListener;

use crate::node::{Api, Node, cache_hits};

/// What the revoking node logs when it stops waiting for a node whose lease ran out.
const GAVE_UP: &str = "a node did not acknowledge a revocation before its lease ran out";

/// How long a test waits for something it expects, before calling it a hang.
const HANG: Duration = Duration::from_secs(30);

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
        // A cannot hear from C, so it answers once C's lease has run out: the logout
        // answers at all, and C refuses the token. How long it waited is the stopped-node
        // test's business.
        assert_eq!(
            api.post(&a, "/api/logout", &login.access).await,
            StatusCode::OK
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

/// A node with a live lease that is stopped (SIGSTOP) cannot acknowledge, so the revoking
/// node must wait for its lease to run out, and no longer. Both halves are orders:
///
/// - the logout answers while C is still stopped (C is thawed only after the answer), so
///   A did not need C;
/// - A logged that C's lease ran out without an acknowledgement, which it does in the
///   wait before it answers, so A did wait for C's lease rather than answer at once.
///
/// A longer lease than the other tests' keeps C's lease, renewed just before the stop,
/// live until A reads it: that is the precondition of the second half, not a claim.
///
/// Thawed and serving again, C acknowledges the next revocation (seen on the channel), so
/// it holds up later logouts no more than any other node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn a_stopped_node_holds_up_logout_only_until_its_lease_ends() {
    let db = TempDatabase::create().await;
    let api = Api::new();
    let lease = ["--lease", "3s"];
    let (a, c) = tokio::join!(Node::start(db.url(), &lease), Node::start(db.url(), &lease));
    let a_id = node_id(&serving(&api, &a).await);
    let c_id = node_id(&serving(&api, &c).await);
    let mut channel = PgListener::connect(db.url()).await.unwrap();
    channel.listen("adieu_events").await.unwrap();
    api.register(&a, "alice").await;
    let login = api.login(&a, "alice").await;
    assert_eq!(api.me(&c, &login.access).await, StatusCode::OK);
    assert_eq!(api.me(&c, &login.access).await, StatusCode::OK);

    c.signal("STOP");
    let status = api.post(&a, "/api/logout", &login.access).await;
    c.signal("CONT");
    assert_eq!(
        status,
        StatusCode::OK,
        "the logout answered while C was stopped"
    );
    a.wait_for_log(GAVE_UP, HANG).await;

    // Thawed, C has a cache full of entries it cannot trust: it must refuse the token.
    assert_eq!(api.me(&c, &login.access).await, StatusCode::UNAUTHORIZED);
    serving(&api, &c).await;
    let next = api.login(&a, "alice").await;
    assert_eq!(api.me(&c, &next.access).await, StatusCode::OK);
    assert_eq!(
        api.post(&a, "/api/logout", &next.access).await,
        StatusCode::OK
    );
    assert_eq!(api.me(&c, &next.access).await, StatusCode::UNAUTHORIZED);
    acknowledged(&mut channel, &a_id, &next.session_id, &c_id).await;
}

/// The node's id, from its `/status`.
fn node_id(health: &serde_json::Value) -> String {
    health["node_id"].as_str().expect("a node id").to_owned()
}

/// Waits on the cluster channel (`docs/ARCHITECTURE.md`, "Several nodes"; the payloads
/// of `crates/adieu-store/src/cluster/message.rs`) until `node` has acknowledged `origin`'s
/// revocation of `session_id`.
async fn acknowledged(channel: &mut PgListener, origin: &str, session_id: &str, node: &str) {
    let wait = async {
        let mut revocations = Vec::new();
        loop {
            let notification = channel.recv().await.unwrap();
            let fields: Vec<&str> = notification.payload().split(' ').collect();
            match fields.as_slice() {
                ["r", o, rev, "1", ids]
                    if *o == origin && ids.split(',').any(|id| id == session_id) =>
                {
                    revocations.push((*rev).to_owned());
                }
                ["a", o, rev, n]
                    if *o == origin && *n == node && revocations.iter().any(|r| r == rev) =>
                {
                    return;
                }
                _ => {}
            }
        }
    };
    // The channel carries heartbeats all the time: the guard is on the whole wait.
    tokio::time::timeout(HANG, wait)
        .await
        .unwrap_or_else(|_| panic!("{node} never acknowledged the revocation of {session_id}"));
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
