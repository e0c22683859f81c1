//! The admin calls that end sessions keep the promise of a logout: the moment the admin API
//! answers, no node accepts those sessions, although every node had them cached a moment
//! before. The call goes to one node's operators' listener; the sessions were made on
//! another, and cached on all three.

use adieu_store::StoreOptions;
use adieu_store::test_support::TempDatabase;
use reqwest::StatusCode;

use crate::node::{Api, Login, Node, PASSWORD, cache_hits, three_serving_nodes};

/// Rounds per admin call.
fn rounds() -> usize {
    std::env::var("ADIEU_TEST_ITERATIONS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(100, |n| n.div_ceil(5))
}

#[derive(Debug, Clone, Copy)]
enum AdminCall {
    Logout,
    Disable,
    Delete,
    SessionRevoke,
}

/// Creates an admin key in the database, as `adieu admin keys create` does.
pub(crate) async fn admin_key(database_url: &str) -> String {
    let storage = adieu_store::connect(
        database_url,
        &StoreOptions {
            cache: false,
            ..StoreOptions::default()
        },
    )
    .await
    .expect("the database opens");
    let key = adieu_core::token::issue_admin_key();
    storage
        .store()
        .create_admin_key("ops", &key.hash, 0)
        .await
        .expect("the key is stored");
    storage.store().close().await;
    key.secret.expose().to_owned()
}

async fn admin_call_holds(call: AdminCall) {
    let db = TempDatabase::create().await;
    let api = Api::new();
    let [a, b, c] = three_serving_nodes(db.url(), &api).await;
    let key = admin_key(db.url()).await;
    let http = reqwest::Client::new();
    let mut accepted = Vec::new();
    for i in 0..rounds() {
        // A user of its own per round: deletion leaves none, and a disabled one stays so.
        let name = format!("user{i}");
        api.register(&a, &name).await;
        let first = api.login(&a, &name).await;
        let second = api.login(&c, &name).await;
        let doomed: Vec<Login> = match call {
            AdminCall::SessionRevoke => vec![first.clone()],
            _ => vec![first.clone(), second.clone()],
        };
        for login in [&first, &second] {
            // Twice: the second check is answered from the node's cache.
            for node in [&a, &b, &c] {
                assert_eq!(api.me(node, &login.access).await, StatusCode::OK);
                assert_eq!(api.me(node, &login.access).await, StatusCode::OK);
            }
        }
        let user_id = me_user_id(&http, &a, &first.access).await;
        let (method, path) = match call {
            AdminCall::Logout => (
                reqwest::Method::POST,
                format!("/admin/users/{user_id}/logout"),
            ),
            AdminCall::Disable => (
                reqwest::Method::POST,
                format!("/admin/users/{user_id}/disable"),
            ),
            AdminCall::Delete => (reqwest::Method::DELETE, format!("/admin/users/{user_id}")),
            AdminCall::SessionRevoke => (
                reqwest::Method::DELETE,
                format!("/admin/sessions/{}", first.session_id),
            ),
        };
        let r = http
            .request(method, format!("{}{path}", b.admin_url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "round {i}: {}", r.status());
        // The very moment the answer is in: every node, every token of those sessions.
        for login in &doomed {
            for node in [&a, &b, &c] {
                let s = api.me(node, &login.access).await;
                if s != StatusCode::UNAUTHORIZED {
                    accepted.push((i, node.url.clone(), s));
                }
            }
        }
        if let AdminCall::SessionRevoke = call {
            assert_eq!(
                api.me(&b, &second.access).await,
                StatusCode::OK,
                "only that session ends"
            );
        }
        if let AdminCall::Disable = call {
            let r = http
                .post(format!("{}/api/login", c.url))
                .json(&serde_json::json!({"username": name, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "round {i}");
        }
    }
    assert!(accepted.is_empty(), "ended sessions accepted: {accepted:?}");
    for node in [&b, &c] {
        let (_, health) = api.health(node).await;
        assert!(
            cache_hits(&health) >= rounds() as u64,
            "cache barely used: {health}"
        );
    }
}

async fn me_user_id(http: &reqwest::Client, node: &Node, access: &str) -> String {
    let me: adieu_types::MeResponse = http
        .get(format!("{}/api/me", node.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me.user_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn after_an_admin_logout_no_node_accepts_the_users_sessions() {
    admin_call_holds(AdminCall::Logout).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn after_disabling_an_account_no_node_accepts_its_sessions_or_logs_it_in() {
    admin_call_holds(AdminCall::Disable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn after_deleting_an_account_no_node_accepts_its_sessions() {
    admin_call_holds(AdminCall::Delete).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn after_an_admin_session_revoke_no_node_accepts_that_session() {
    admin_call_holds(AdminCall::SessionRevoke).await;
}
