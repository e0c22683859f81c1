//! Logout and the other calls, with the server up.

use adieu_client::{Error, LogoutAllOutcome, LogoutOutcome, MemoryStore};
use reqwest::Method;

use crate::helpers::{
    Inspect, PAST_ACCESS_TTL, TestResult, TestServer, client, logged_in, password, stored_tokens,
};

#[tokio::test]
async fn a_successful_logout_revokes_the_session_and_empties_the_store() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (client, store) = logged_in(&server.url(), "alice").await;
    assert_eq!(client.me().await?.username, "alice");
    let (access, refresh) = stored_tokens(&store).expect("the login stored its tokens");
    assert_eq!(server.me_status(&access).await, 200);

    let outcome = client.logout().await?;

    assert_eq!(outcome, LogoutOutcome::Revoked);
    assert!(
        store.load_contents().is_empty(),
        "no session, nothing pending"
    );
    assert_eq!(
        server.me_status(&access).await,
        401,
        "old access token refused"
    );
    assert_eq!(
        server.refresh_status(&refresh).await,
        401,
        "old refresh token refused"
    );
    assert!(matches!(client.me().await, Err(Error::NotLoggedIn)));
    assert_eq!(client.logout().await?, LogoutOutcome::NotLoggedIn);
    Ok(())
}

#[tokio::test]
async fn a_logout_with_an_expired_access_token_still_ends_the_session() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (client, store) = logged_in(&server.url(), "alice").await;
    let (_, refresh) = stored_tokens(&store).unwrap();
    server.clock.advance(PAST_ACCESS_TTL);

    assert_eq!(client.logout().await?, LogoutOutcome::Revoked);
    assert_eq!(server.refresh_status(&refresh).await, 401);
    Ok(())
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_the_call_retried() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (client, store) = logged_in(&server.url(), "alice").await;
    let (old_access, _) = stored_tokens(&store).unwrap();
    server.clock.advance(PAST_ACCESS_TTL);

    assert_eq!(client.me().await?.username, "alice");

    let (new_access, _) = stored_tokens(&store).unwrap();
    assert_ne!(new_access, old_access, "the refreshed pair is stored");
    assert_eq!(server.me_status(&new_access).await, 200);
    Ok(())
}

#[tokio::test]
async fn a_session_ended_elsewhere_is_dropped_and_its_logout_is_already_ended() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (client, store) = logged_in(&server.url(), "alice").await;
    let (access, _) = stored_tokens(&store).unwrap();
    let ended = server
        .client
        .post(format!("{}/api/logout", server.url()))
        .bearer_auth(&access)
        .send()
        .await?;
    assert_eq!(ended.status(), 200);

    let err = client.me().await.unwrap_err();
    assert!(matches!(err, Error::SessionEnded), "{err}");
    assert!(err.is_unauthorized());
    assert!(
        !store.load_contents().has_session(),
        "dead tokens are not kept"
    );
    assert_eq!(client.logout().await?, LogoutOutcome::AlreadyEnded);
    Ok(())
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (laptop, laptop_store) = logged_in(&server.url(), "alice").await;
    let (phone, _) = logged_in(&server.url(), "alice").await;
    // An expired access token must not stop it.
    server.clock.advance(PAST_ACCESS_TTL);

    let outcome = laptop.logout_all().await?;

    assert_eq!(outcome, LogoutAllOutcome::Revoked { sessions: 2 });
    assert!(laptop_store.load_contents().is_empty());
    assert!(matches!(phone.me().await, Err(Error::SessionEnded)));
    Ok(())
}

#[tokio::test]
async fn a_new_login_revokes_the_session_it_replaces() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    server.register("bob").await;
    let (client, store) = logged_in(&server.url(), "alice").await;
    let (alice_access, _) = stored_tokens(&store).unwrap();

    client.login("bob", &password()).await?;

    assert_eq!(client.me().await?.username, "bob");
    assert_eq!(server.me_status(&alice_access).await, 401);
    assert!(store.load_contents().pending_revocations().is_empty());
    Ok(())
}

#[tokio::test]
async fn sessions_are_listed_and_revoked() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (laptop, laptop_store) = logged_in(&server.url(), "alice").await;
    let (phone, _) = logged_in(&server.url(), "alice").await;
    let phone_id = phone.session().unwrap().session_id;
    let laptop_id = laptop.session().unwrap().session_id;

    let sessions = laptop.sessions().await?;
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].id, laptop_id);

    laptop.revoke_session(&phone_id).await?;
    assert!(matches!(phone.me().await, Err(Error::SessionEnded)));
    let missing = laptop.revoke_session(&phone_id).await.unwrap_err();
    assert_eq!(missing.status(), Some(404));
    assert!(laptop.revoke_session("../logout").await.is_err());

    // Revoking our own session is a logout: the local credentials go too.
    laptop.revoke_session(&laptop_id).await?;
    assert!(!laptop_store.load_contents().has_session());
    assert!(matches!(laptop.me().await, Err(Error::NotLoggedIn)));
    Ok(())
}

#[tokio::test]
async fn a_password_change_keeps_this_session_and_ends_the_others() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (laptop, _) = logged_in(&server.url(), "alice").await;
    let (phone, _) = logged_in(&server.url(), "alice").await;

    let changed = laptop
        .change_password(
            &password(),
            &adieu_client::Secret::new("a brand new passphrase"),
        )
        .await?;

    assert_eq!(changed.revoked_sessions, 1);
    assert_eq!(laptop.me().await?.username, "alice");
    assert!(matches!(phone.me().await, Err(Error::SessionEnded)));
    Ok(())
}

#[tokio::test]
async fn a_wrong_password_is_an_unauthorized_error_that_says_so() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let store = MemoryStore::new();
    let client = client(&server.url(), &store).await;

    let err = client
        .login("alice", &adieu_client::Secret::new("not the password"))
        .await
        .unwrap_err();

    assert!(err.is_unauthorized());
    assert_eq!(err.to_string(), "wrong username or password");
    assert!(!store.load_contents().has_session());
    Ok(())
}

#[tokio::test]
async fn the_access_token_is_never_attached_to_a_request_for_another_server() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let (client, _) = logged_in(&server.url(), "alice").await;

    let elsewhere = client.http().get("http://127.0.0.2:9/api/me");
    let err = client.send_authorized(elsewhere).await.unwrap_err();
    assert!(matches!(err, Error::InvalidUrl(_)), "{err}");

    let ours = client.request(Method::GET, "/api/me")?;
    assert_eq!(client.send_authorized(ours).await?.status(), 200);
    Ok(())
}
