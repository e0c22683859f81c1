//! Introspection keeps the promise on every node: the moment a logout answers, every node
//! says `active:false`; the moment a client's deletion answers, no node accepts the client.

use adieu_store::test_support::TempDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin::admin_key;
use crate::node::{Api, Node, three_serving_nodes};

fn rounds() -> usize {
    std::env::var("ADIEU_TEST_ITERATIONS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(100, |n| n.div_ceil(5))
}

async fn introspect(
    http: &reqwest::Client,
    node: &Node,
    client: &(String, String),
    token: &str,
) -> (StatusCode, Value) {
    let r = http
        .post(format!("{}/oauth2/introspect", node.url))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn after_logout_every_node_says_inactive_and_a_deleted_client_is_refused_everywhere() {
    let db = TempDatabase::create().await;
    let api = Api::new();
    let [a, b, c] = three_serving_nodes(db.url(), &api).await;
    let key = admin_key(db.url()).await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/admin/clients", a.admin_url))
        .bearer_auth(&key)
        .json(&json!({"name": "rs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    );
    api.register(&a, "alice").await;
    let mut active_after_logout = Vec::new();
    for i in 0..rounds() {
        let login = api.login(&a, "alice").await;
        for node in [&b, &c] {
            for _ in 0..2 {
                let (s, body) = introspect(&http, node, &client, &login.access).await;
                assert_eq!(
                    (s, &body["active"]),
                    (StatusCode::OK, &json!(true)),
                    "round {i}"
                );
            }
        }
        assert_eq!(
            api.post(&a, "/api/logout", &login.access).await,
            StatusCode::OK
        );
        for node in [&b, &c, &a] {
            let (s, body) = introspect(&http, node, &client, &login.access).await;
            assert_eq!(s, StatusCode::OK);
            if body != json!({"active": false}) {
                active_after_logout.push((i, node.url.clone(), body));
            }
        }
    }
    assert!(active_after_logout.is_empty(), "{active_after_logout:?}");
    // The client itself: cached on B and C, deleted on A, refused by all at once.
    let login = api.login(&a, "alice").await;
    for node in [&b, &c] {
        assert_eq!(
            introspect(&http, node, &client, &login.access).await.0,
            StatusCode::OK
        );
    }
    let r = http
        .delete(format!("{}/admin/clients/{}", a.admin_url, client.0))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for node in [&b, &c, &a] {
        let (s, body) = introspect(&http, node, &client, &login.access).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{}: {body}", node.url);
        assert_eq!(body["error"], "invalid_client");
    }
}
