//! A credential store whose writes fail.

use adieu_client::{Error, LogoutOutcome};

use crate::helpers::{
    FlakyStore, Front, Inspect, Mode, TestResult, TestServer, client, password, stored_tokens,
};

#[tokio::test]
async fn a_login_the_store_cannot_save_changes_nothing_on_the_device() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    server.register("bob").await;
    let store = FlakyStore::default();
    let device = client(&server.url(), &store).await;
    store.fail_writes(true);

    let err = device.login("alice", &password()).await.unwrap_err();

    assert!(err.is_store(), "{err}");
    assert!(device.session().is_none(), "nothing in memory");
    assert!(matches!(device.me().await, Err(Error::NotLoggedIn)));
    assert!(!store.load_contents().has_session());

    // With a session held before, that session stays: in memory, in the store, on the server.
    store.fail_writes(false);
    device.login("alice", &password()).await?;
    let alice = device.session().unwrap();
    let (alice_access, _) = stored_tokens(&store).unwrap();
    store.fail_writes(true);

    let err = device.login("bob", &password()).await.unwrap_err();

    assert!(err.is_store(), "{err}");
    assert_eq!(device.session(), Some(alice.clone()));
    assert_eq!(device.me().await?.username, "alice");
    assert_eq!(server.me_status(&alice_access).await, 200);
    // The first session the store could not save was ended on the server, not left alive.
    let sessions = device.sessions().await?;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].id, alice.session_id);
    Ok(())
}

#[tokio::test]
async fn a_store_error_while_retrying_at_start_does_not_stop_the_client() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let front = Front::start(&server).await;
    let store = FlakyStore::default();
    let device = client(&front.url, &store).await;
    device.login("alice", &password()).await?;
    let (_, refresh) = stored_tokens(&store).unwrap();
    front.set_mode(Mode::Fail500);
    assert!(matches!(
        device.logout().await?,
        LogoutOutcome::LocalOnly {
            retry_pending: true,
            ..
        }
    ));
    front.set_mode(Mode::Forward);
    store.fail_writes(true);

    let next = client(&front.url, &store).await;

    let report = next.revocations_retried_at_start().expect("a retry ran");
    assert_eq!(report.revoked.len(), 1);
    assert_eq!(server.refresh_status(&refresh).await, 401);
    assert_eq!(
        store.load_contents().pending_revocations().len(),
        1,
        "the store could not drop it: it stays pending"
    );
    assert!(
        next.retry_pending_revocations()
            .await
            .unwrap_err()
            .is_store()
    );

    store.fail_writes(false);
    let last = client(&front.url, &store).await;
    assert!(last.revocations_retried_at_start().unwrap().is_complete());
    assert!(store.load_contents().is_empty());
    Ok(())
}
