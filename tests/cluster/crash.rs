//! A node killed (`kill -9`) right after answering a logout: when it comes back, the
//! session is still over. The 200 was only sent once the revocation was durable.

use adieu_store::test_support::TempDatabase;
use reqwest::StatusCode;

use crate::node::{Api, Node};

async fn revocation_survives_a_crash(database_url: &str, other: Option<&Node>) {
    let api = Api::new();
    let mut node = Node::start(database_url, &[]).await;
    api.register(&node, "alice").await;
    for _ in 0..5 {
        let login = api.login(&node, "alice").await;
        assert_eq!(api.me(&node, &login.access).await, StatusCode::OK);
        assert_eq!(
            api.post(&node, "/api/logout", &login.access).await,
            StatusCode::OK
        );
        node.kill9().await;
        node.restart().await;
        assert_eq!(api.me(&node, &login.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            api.refresh(&node, &login.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        if let Some(other) = other {
            assert_eq!(api.me(other, &login.access).await, StatusCode::UNAUTHORIZED);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_survives_kill_9_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("adieu.db").display());
    revocation_survives_a_crash(&url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn a_logout_survives_kill_9_on_postgres() {
    let db = TempDatabase::create().await;
    let other = Node::start(db.url(), &[]).await;
    revocation_survives_a_crash(db.url(), Some(&other)).await;
}
