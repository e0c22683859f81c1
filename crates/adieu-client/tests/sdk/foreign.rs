//! Answers that look like a logout's but do not come from the server: a proxy, a gateway or a
//! web app's fallback page in front of it. They prove nothing: a revocation stays pending and a
//! session's tokens are kept.

use adieu_client::{LocalOnlyReason, LogoutAllOutcome, LogoutOutcome, MemoryStore};

use crate::helpers::{
    Front, Inspect, Mode, PAST_ACCESS_TTL, TestResult, TestServer, client, password, stored_tokens,
};

/// A single-page app's fallback: every path gets its HTML with a 200.
const SPA_PAGE: &str = "<!doctype html><html><body><div id=app></div></body></html>";

/// 200s and 401s that are not the server's confirmation, with the reason they must give.
const FOREIGN: [(u16, &str, LocalOnlyReason); 7] = [
    (200, SPA_PAGE, LocalOnlyReason::UnexpectedStatus(200)),
    (200, "", LocalOnlyReason::UnexpectedStatus(200)),
    (200, "{}", LocalOnlyReason::UnexpectedStatus(200)),
    (
        200,
        r#"{"status":"ok"}"#,
        LocalOnlyReason::UnexpectedStatus(200),
    ),
    (204, "", LocalOnlyReason::UnexpectedStatus(204)),
    (
        401,
        "<html>401 Authorization Required</html>",
        LocalOnlyReason::UnexpectedStatus(401),
    ),
    (
        401,
        r#"{"error":"unauthorized","message":"log in to the gateway"}"#,
        LocalOnlyReason::UnexpectedStatus(401),
    ),
];

#[tokio::test]
async fn a_logout_answered_by_something_else_than_the_server_stays_pending() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let front = Front::start(&server).await;
    for (status, body, reason) in FOREIGN {
        let store = MemoryStore::new();
        let device = client(&front.url, &store).await;
        front.set_mode(Mode::Forward);
        device.login("alice", &password()).await?;
        let (access, refresh) = stored_tokens(&store).unwrap();
        front.set_mode(Mode::Answer(status, body));

        let outcome = device.logout().await?;

        assert_eq!(
            outcome,
            LogoutOutcome::LocalOnly {
                reason,
                retry_pending: true
            },
            "{status} {body:?}"
        );
        let contents = store.load_contents();
        assert!(!contents.has_session());
        assert_eq!(contents.pending_revocations().len(), 1, "{status} {body:?}");
        assert_eq!(server.me_status(&access).await, 200, "the session is alive");

        // The retry is just as suspicious of such answers.
        let report = device.retry_pending_revocations().await?;
        assert_eq!(report.revoked, Vec::<String>::new(), "{status} {body:?}");
        assert_eq!(report.still_pending.len(), 1);
        assert_eq!(report.still_pending[0].1, reason);
        assert_eq!(store.load_contents().pending_revocations().len(), 1);

        front.set_mode(Mode::Forward);
        let report = device.retry_pending_revocations().await?;
        assert_eq!(report.revoked.len(), 1);
        assert!(store.load_contents().is_empty());
        assert_eq!(server.refresh_status(&refresh).await, 401);
    }
    Ok(())
}

#[tokio::test]
async fn only_the_servers_invalid_token_answer_means_already_ended() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let front = Front::start(&server).await;
    let store = MemoryStore::new();
    let device = client(&front.url, &store).await;
    device.login("alice", &password()).await?;
    front.set_mode(Mode::Answer(
        401,
        r#"{"error":"invalid_token","message":"the token is invalid or has expired"}"#,
    ));

    assert_eq!(device.logout().await?, LogoutOutcome::AlreadyEnded);
    assert!(store.load_contents().is_empty(), "nothing pending");
    Ok(())
}

#[tokio::test]
async fn a_logout_all_answered_by_something_else_than_the_server_stays_pending() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let front = Front::start(&server).await;
    for (status, body, reason) in FOREIGN {
        let store = MemoryStore::new();
        let device = client(&front.url, &store).await;
        front.set_mode(Mode::Forward);
        device.login("alice", &password()).await?;
        let (access, _) = stored_tokens(&store).unwrap();
        front.set_mode(Mode::Answer(status, body));

        let outcome = device.logout_all().await?;

        assert_eq!(
            outcome,
            LogoutAllOutcome::LocalOnly {
                reason,
                retry_pending: true
            },
            "{status} {body:?}"
        );
        assert_eq!(store.load_contents().pending_revocations().len(), 1);
        assert_eq!(server.me_status(&access).await, 200, "the session is alive");
        front.set_mode(Mode::Forward);
        assert_eq!(device.retry_pending_revocations().await?.revoked.len(), 1);
    }
    Ok(())
}

#[tokio::test]
async fn a_refresh_refused_by_a_gateway_keeps_the_session() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let front = Front::start(&server).await;
    let store = MemoryStore::new();
    let device = client(&front.url, &store).await;
    device.login("alice", &password()).await?;
    server.clock.advance(PAST_ACCESS_TTL);
    front.set_mode(Mode::Answer(401, "<html>401 Authorization Required</html>"));

    let err = device.me().await.unwrap_err();

    assert_eq!(err.status(), Some(401), "{err}");
    assert!(
        store.load_contents().has_session(),
        "the tokens are not dropped on a gateway's word"
    );
    front.set_mode(Mode::Forward);
    assert_eq!(device.me().await?.username, "alice");
    assert_eq!(device.logout().await?, LogoutOutcome::Revoked);
    Ok(())
}
