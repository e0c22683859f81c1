//! The file store on disk.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use adieu_client::{Client, CredentialStore, FileStore, LogoutOutcome};

use crate::helpers::{Front, Mode, TestResult, TestServer, client, password, stored_tokens};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn the_credentials_file_is_private_to_its_owner() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let dir = tempfile::tempdir()?;
    let store = FileStore::in_dir(dir.path().join("adieu"));
    let device = client(&server.url(), &store).await;

    device.login("alice", &password()).await?;

    assert_eq!(mode(store.path()), 0o600);
    assert_eq!(mode(store.path().parent().unwrap()), 0o700);
    assert!(stored_tokens(&store).is_some());
    Ok(())
}

#[tokio::test]
async fn a_credentials_file_others_can_read_is_refused_with_the_reason() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let dir = tempfile::tempdir()?;
    let store = FileStore::in_dir(dir.path());
    client(&server.url(), &store)
        .await
        .login("alice", &password())
        .await?;

    for loose in [0o644, 0o640, 0o604] {
        fs::set_permissions(store.path(), fs::Permissions::from_mode(loose))?;
        let err = store.load().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("other users can access it"), "{message}");
        assert!(message.contains(&format!("{loose:03o}")), "{message}");
        assert!(
            message.contains(&store.path().display().to_string()),
            "{message}"
        );
        let err = Client::builder(server.url())
            .store(store.clone())
            .build()
            .await
            .unwrap_err();
        assert!(
            err.is_store(),
            "a client will not start on it either: {err}"
        );
    }
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o600))?;
    assert!(store.load()?.has_session());
    Ok(())
}

#[tokio::test]
async fn a_logout_leaves_no_token_bytes_in_the_file() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let dir = tempfile::tempdir()?;
    let store = FileStore::in_dir(dir.path());
    let device = client(&server.url(), &store).await;
    device.login("alice", &password()).await?;
    // Refresh once, so that the file has been rewritten with a second pair.
    server.clock.advance(crate::helpers::PAST_ACCESS_TTL);
    let first = stored_tokens(&store).unwrap();
    device.me().await?;
    let second = stored_tokens(&store).unwrap();
    assert_ne!(first, second);

    assert_eq!(device.logout().await?, LogoutOutcome::Revoked);

    let bytes = fs::read(store.path())?;
    let text = String::from_utf8_lossy(&bytes);
    for token in [&first.0, &first.1, &second.0, &second.1] {
        assert!(!text.contains(token.as_str()), "a token survived: {text}");
    }
    assert!(
        !text.contains("adieu_at_") && !text.contains("adieu_rt_"),
        "{text}"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())?
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != "credentials.json")
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file left: {leftovers:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_local_only_logout_keeps_nothing_but_the_refresh_token_for_revocation() -> TestResult {
    let server = TestServer::start().await;
    server.register("alice").await;
    let front = Front::start(&server).await;
    let dir = tempfile::tempdir()?;
    let store = FileStore::in_dir(dir.path());
    let device = client(&front.url, &store).await;
    device.login("alice", &password()).await?;
    let (access, refresh) = stored_tokens(&store).unwrap();
    front.set_mode(Mode::Fail500);

    let outcome = device.logout().await?;
    assert!(matches!(
        outcome,
        LogoutOutcome::LocalOnly {
            retry_pending: true,
            ..
        }
    ));

    let text = fs::read_to_string(store.path())?;
    assert!(!text.contains(&access), "the access token is gone");
    assert!(
        text.contains(&refresh),
        "the refresh token waits for its revocation"
    );
    assert!(
        stored_tokens(&store).is_none(),
        "but not as a usable session"
    );
    assert_eq!(mode(store.path()), 0o600);

    front.set_mode(Mode::Forward);
    let restarted = client(&front.url, &store).await;
    assert_eq!(
        restarted
            .revocations_retried_at_start()
            .unwrap()
            .revoked
            .len(),
        1
    );
    let text = fs::read_to_string(store.path())?;
    assert!(!text.contains(&refresh), "{text}");
    assert_eq!(server.refresh_status(&refresh).await, 401);
    Ok(())
}
