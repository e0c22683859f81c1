//! Forward auth on several nodes: one nginx in front of three of them (round robin), as a
//! deployment would run it. Once a logout has answered on any node, no proxied request with
//! that session's token reaches the app, whichever node nginx asks.

use std::net::SocketAddr;

use adieu_server::test_support::proxy::{Proxy, Upstream, free_port};
use adieu_store::test_support::TempDatabase;
use reqwest::StatusCode;

use crate::node::{Api, Node, cache_hits};

fn addr(node: &Node) -> SocketAddr {
    node.url.trim_start_matches("http://").parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and nginx: set ADIEU_TEST_POSTGRES_URL and ADIEU_TEST_NGINX"]
async fn behind_one_nginx_no_node_lets_a_token_through_after_its_logout() {
    let db = TempDatabase::create().await;
    let api = Api::new();
    let (a, b, c) = tokio::join!(
        Node::start(db.url(), &[]),
        Node::start(db.url(), &[]),
        Node::start(db.url(), &[])
    );
    let nodes = [a, b, c];
    for node in &nodes {
        api.wait_for_health(node, std::time::Duration::from_secs(10), |s, h| {
            s == StatusCode::OK && h["cache"] == "serving"
        })
        .await;
    }
    let app = Upstream::start().await;
    let upstreams: Vec<SocketAddr> = nodes.iter().map(addr).collect();
    let proxy = Proxy::nginx(free_port().await, &upstreams, app.addr).await;
    let client = proxy.client();
    let through = |access: String| {
        client
            .get(proxy.app_url("/private"))
            .bearer_auth(access)
            .send()
    };
    api.register(&nodes[0], "alice").await;
    let rounds = 200;
    let mut accepted_after_logout = 0;
    for i in 0..rounds {
        let login = api.login(&nodes[i % 3], "alice").await;
        // Three proxied requests: round robin asks every node, and each caches the token.
        for _ in 0..3 {
            let r = through(login.access.clone()).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "round {i}");
        }
        let reached = app.requests();
        let status = api
            .post(&nodes[(i + 1) % 3], "/api/logout", &login.access)
            .await;
        assert_eq!(status, StatusCode::OK);
        for _ in 0..3 {
            let r = through(login.access.clone()).await.unwrap();
            if r.status() != StatusCode::UNAUTHORIZED {
                accepted_after_logout += 1;
            }
        }
        assert_eq!(
            app.requests(),
            reached,
            "round {i}: the app was reached after the logout"
        );
    }
    assert_eq!(accepted_after_logout, 0);
    assert_eq!(app.requests(), 3 * rounds);
    // Every node answered nginx from its cache: the round robin reached them all.
    for node in &nodes {
        let (_, status) = api.health(node).await;
        assert!(cache_hits(&status) > 0, "{status}");
    }
}
