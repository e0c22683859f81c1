//! A node killed (`kill -9`) right after answering a logout: the process it is restarted
//! as still refuses the session. So the revocation was in the database when the 200 was
//! sent, not only in the old process's memory or cache.
//!
//! This is not a test of durability: `kill -9` ends the process, not the machine, and the
//! kernel's page cache keeps every write the process made, synced or not. A build whose
//! SQLite never syncs passes it too. That a 200 waits for the revocation to be on stable
//! storage is shown from the server's system calls in `durability.rs`.

use adieu_store::test_support::TempDatabase;
use reqwest::StatusCode;

use crate::node::{Api, Node};

async fn a_restarted_node_refuses_what_was_logged_out_before(
    database_url: &str,
    other: Option<&Node>,
) {
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
async fn a_node_restarted_after_kill_9_still_refuses_a_logged_out_session_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("adieu.db").display());
    a_restarted_node_refuses_what_was_logged_out_before(&url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ADIEU_TEST_POSTGRES_URL"]
async fn a_node_restarted_after_kill_9_still_refuses_a_logged_out_session_on_postgres() {
    let db = TempDatabase::create().await;
    let other = Node::start(db.url(), &[]).await;
    a_restarted_node_refuses_what_was_logged_out_before(db.url(), Some(&other)).await;
}
