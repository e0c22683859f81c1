//! Logout when the server cannot be told: down, failing, or silent.

use std::time::Duration;

use adieu_client::{Client, LocalOnlyReason, LogoutOutcome, MemoryStore};

use crate::helpers::{
    Front, Inspect, Mode, TestResult, TestServer, client, password, stored_tokens, wait_until,
};

/// After a local-only logout: nothing usable is stored, one revocation is pending, and the
/// session is, truthfully, still alive on the server.
async fn assert_local_only(store: &MemoryStore, server: &TestServer, access: &str) {
    let contents = store.load_contents();
    assert!(!contents.has_session(), "local credentials are gone");
    assert_eq!(
        contents.pending_revocations().len(),
        1,
        "the revocation is pending"
    );
    assert_eq!(
        server.me_status(access).await,
        200,
        "the server never heard of the logout"
    );
}

/// Once a pending revocation went through: the list is empty and the old tokens are dead.
async fn assert_revoked(store: &MemoryStore, server: &TestServer, tokens: &(String, String)) {
    assert!(store.load_contents().is_empty(), "nothing left pending");
    assert_eq!(server.me_status(&tokens.0).await, 401);
    assert_eq!(server.refresh_status(&tokens.1).await, 401);
}

#[tokio::test]
async fn a_logout_while_the_server_is_down_is_local_only_and_retried_at_the_next_start()
-> TestResult {
    let mut server = TestServer::start().await;
    server.register("alice").await;
    let store = MemoryStore::new();
    let device = client(&server.url(), &store).await;
    device.login("alice", &password()).await?;
    let tokens = stored_tokens(&store).unwrap();
    server.stop().await;

    let outcome = device.logout().await?;

    assert_eq!(
        outcome,
        LogoutOutcome::LocalOnly {
            reason: LocalOnlyReason::Network,
            retry_pending: true
        }
    );
    assert!(device.me().await.unwrap_err().is_unauthorized());
    server.restart().await;
    assert_local_only(&store, &server, &tokens.0).await;

    // The next start of a client on this store retries by itself.
    let next = client(&server.url(), &store).await;
    let report = next.revocations_retried_at_start().expect("a retry ran");
    assert_eq!(report.revoked.len(), 1);
    assert!(report.is_complete());
    assert_revoked(&store, &server, &tokens).await;
    Ok(())
}

#[tokio::test]
async fn a_logout_answered_with_500_is_local_only_until_retried() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let front = Front::start(&server).await;
    let store = MemoryStore::new();
    let device = client(&front.url, &store).await;
    device.login("alice", &password()).await?;
    let tokens = stored_tokens(&store).unwrap();
    front.set_mode(Mode::Fail500);

    let outcome = device.logout().await?;

    assert_eq!(
        outcome,
        LogoutOutcome::LocalOnly {
            reason: LocalOnlyReason::ServerError(500),
            retry_pending: true
        }
    );
    assert_local_only(&store, &server, &tokens.0).await;
    let still_failing = device.retry_pending_revocations().await?;
    assert_eq!(
        still_failing.still_pending,
        vec![(
            device.pending_revocations()[0].session_id().to_owned(),
            LocalOnlyReason::ServerError(500)
        )]
    );
    assert_eq!(store.load_contents().pending_revocations().len(), 1);

    front.set_mode(Mode::Forward);
    let report = device.retry_pending_revocations().await?;

    assert_eq!(report.revoked.len(), 1);
    assert!(device.pending_revocations().is_empty());
    assert_revoked(&store, &server, &tokens).await;
    Ok(())
}

#[tokio::test]
async fn a_logout_that_times_out_is_local_only_until_retried() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let front = Front::start(&server).await;
    let store = MemoryStore::new();
    let device = Client::builder(&front.url)
        .store(store.clone())
        .timeout(Duration::from_secs(1))
        .build()
        .await?;
    device.login("alice", &password()).await?;
    let tokens = stored_tokens(&store).unwrap();
    front.set_mode(Mode::Hang);

    let logout = tokio::spawn({
        let device = device.clone();
        async move { device.logout().await }
    });
    // While the server call hangs, the device is already clean.
    wait_until("the logout call reached the server", || front.hung() == 1).await;
    assert!(!logout.is_finished());
    assert!(
        !store.load_contents().has_session(),
        "cleared before the network call"
    );
    assert!(device.session().is_none());
    let outcome = logout.await??;

    assert_eq!(
        outcome,
        LogoutOutcome::LocalOnly {
            reason: LocalOnlyReason::Timeout,
            retry_pending: true
        }
    );
    assert_local_only(&store, &server, &tokens.0).await;

    front.set_mode(Mode::Forward);
    let report = device.retry_pending_revocations().await?;
    assert_eq!(report.revoked.len(), 1);
    assert_revoked(&store, &server, &tokens).await;
    Ok(())
}
