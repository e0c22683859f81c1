//! The account as a whole: deleting it, and its activity.

use adieu_client::{Error, Secret};
use adieu_types::ErrorCode;

use crate::helpers::{
    Inspect, PAST_ACCESS_TTL, TestResult, TestServer, logged_in, password, stored_tokens,
};

#[tokio::test]
async fn deleting_the_account_wipes_this_device_and_the_old_tokens_are_refused() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (client, store) = logged_in(&server.url(), "alice").await;
    let other_device = server.login("alice").await;
    let (access, refresh) = stored_tokens(&store).expect("the login stored its tokens");

    let deleted = client.delete_account(&password()).await?;

    assert_eq!(deleted.status, "deleted");
    assert_eq!(deleted.revoked_sessions, 2);
    assert!(
        store.load_contents().is_empty(),
        "no session, nothing pending"
    );
    assert!(client.session().is_none());
    assert!(matches!(client.me().await, Err(Error::NotLoggedIn)));
    assert_eq!(server.me_status(&access).await, 401);
    assert_eq!(server.refresh_status(&refresh).await, 401);
    assert_eq!(server.me_status(&other_device.access).await, 401);
    let r = server
        .try_login("alice", adieu_server::test_support::PASSWORD)
        .await;
    assert_eq!(r.status(), 401, "the account is gone");
    Ok(())
}

#[tokio::test]
async fn a_wrong_password_keeps_the_account_and_this_device_as_they_were() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (client, store) = logged_in(&server.url(), "alice").await;
    let before = stored_tokens(&store).unwrap();

    let refused = client
        .delete_account(&Secret::new("not the password"))
        .await
        .expect_err("a wrong password is refused");

    assert_eq!(refused.status(), Some(401));
    assert_eq!(refused.code(), Some(ErrorCode::InvalidCredentials));
    assert!(refused.to_string().contains("wrong username or password"));
    assert_eq!(
        stored_tokens(&store).unwrap(),
        before,
        "no refresh, no wipe"
    );
    assert_eq!(client.me().await?.username, "alice");
    assert_eq!(server.me_status(&before.0).await, 200);
    Ok(())
}

#[tokio::test]
async fn deleting_the_account_with_an_expired_access_token_refreshes_first() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (client, store) = logged_in(&server.url(), "alice").await;
    server.clock.advance(PAST_ACCESS_TTL);

    let deleted = client.delete_account(&password()).await?;

    assert_eq!(deleted.revoked_sessions, 1);
    assert!(store.load_contents().is_empty());
    Ok(())
}

#[tokio::test]
async fn the_activity_lists_the_login_of_this_device() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (client, _store) = logged_in(&server.url(), "alice").await;
    let session_id = client.session().unwrap().session_id;

    let events = client.activity().await?;

    let login = events
        .iter()
        .find(|e| e.event == "login")
        .expect("the login is listed");
    assert_eq!(login.session_id.as_deref(), Some(session_id.as_str()));
    assert!(!login.by_administrator);
    assert!(!login.description.is_empty());
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("register"));
    Ok(())
}
