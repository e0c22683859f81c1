//! Partitions between real hosts: nodes in network namespaces of their own, PostgreSQL (the
//! test's own instance) in another, one node's link cut, the database restarted under load.

use std::future::Future;
use std::time::Duration;

use reqwest::StatusCode;

use crate::netns::Network;
use crate::node::{Api, Node, cache_hits};

/// Only against a hang: nothing here asserts how long anything took.
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, work)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after {HANG_GUARD:?}"))
}

async fn serving(api: &Api, node: &Node) -> serde_json::Value {
    api.wait_for_health(node, HANG_GUARD, |s, h| {
        s == StatusCode::OK && h["cache"] == "serving"
    })
    .await
}

/// Three nodes, one per namespace, each with its cache serving.
async fn three_nodes(net: &Network, api: &Api) -> [Node; 3] {
    let url = net.database_url();
    let (a, b, c) = tokio::join!(
        Node::start_on(net.host(0), &url, &[]),
        Node::start_on(net.host(1), &url, &[]),
        Node::start_on(net.host(2), &url, &[])
    );
    for node in [&a, &b, &c] {
        serving(api, node).await;
    }
    [a, b, c]
}

/// Checks `access` on `node` twice: the first check fills its cache, the second is
/// answered from it.
async fn cached(api: &Api, node: &Node, access: &str) {
    for _ in 0..2 {
        assert_eq!(api.me(node, access).await, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and iproute2 (ip netns): set ADIEU_TEST_NETNS=1 and ADIEU_TEST_PG_BIN"]
async fn a_node_cut_off_from_the_database_accepts_no_revoked_token_and_serves_again_once_back() {
    let net = Network::create(3);
    let api = Api::new();
    let [a, b, c] = three_nodes(&net, &api).await;
    api.register(&a, "alice").await;
    api.register(&a, "bob").await;
    let alice = api.login(&a, "alice").await;
    let bob = [api.login(&a, "bob").await, api.login(&b, "bob").await];
    for login in [&alice, &bob[0], &bob[1]] {
        cached(&api, &b, &login.access).await;
        cached(&api, &c, &login.access).await;
    }

    net.cut(2);
    // C can neither acknowledge nor renew its lease: A's logout answers once C's lease has
    // lapsed, while C is still cut off.
    let status = within(
        "logout with C cut off",
        api.post(&a, "/api/logout", &alice.access),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, health) = api.health(&c).await;
    assert_eq!(
        health["cache"], "resyncing",
        "the logout answered while the cut-off node still served from memory: {health}"
    );
    let status = api.post(&a, "/api/logout/all", &bob[0].access).await;
    assert_eq!(status, StatusCode::OK);

    // B heard every revocation; C, unable to read the database, refuses without a 200.
    for login in [&alice, &bob[0], &bob[1]] {
        assert_eq!(api.me(&b, &login.access).await, StatusCode::UNAUTHORIZED);
    }
    let (x, y, z) = tokio::join!(
        api.me(&c, &alice.access),
        api.me(&c, &bob[0].access),
        api.me(&c, &bob[1].access)
    );
    for status in [x, y, z] {
        // 500 in practice: its database pool times out.
        assert!(
            matches!(
                status,
                StatusCode::UNAUTHORIZED
                    | StatusCode::INTERNAL_SERVER_ERROR
                    | StatusCode::SERVICE_UNAVAILABLE
            ),
            "the cut-off node answered {status} for a revoked token"
        );
    }
    // And it tells its operators that it has lost the database.
    api.wait_for_health(&c, HANG_GUARD, |s, h| {
        s == StatusCode::SERVICE_UNAVAILABLE && h["database"] == "down"
    })
    .await;

    net.restore(2);
    let before = cache_hits(&serving(&api, &c).await);
    for login in [&alice, &bob[0], &bob[1]] {
        assert_eq!(api.me(&c, &login.access).await, StatusCode::UNAUTHORIZED);
    }
    // It serves from memory again, and hears the next logout.
    let fresh = api.login(&a, "alice").await;
    cached(&api, &c, &fresh.access).await;
    let (_, after) = api.health(&c).await;
    assert!(
        cache_hits(&after) > before,
        "C does not serve from its cache again: {after}"
    );
    assert_eq!(
        api.post(&a, "/api/logout", &fresh.access).await,
        StatusCode::OK
    );
    assert_eq!(api.me(&c, &fresh.access).await, StatusCode::UNAUTHORIZED);
}
