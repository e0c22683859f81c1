//! Refresh against logout, and refresh against refresh.

use std::time::Duration;

use adieu_client::LogoutOutcome;

use crate::helpers::{
    Front, Inspect, PAST_ACCESS_TTL, TestResult, TestServer, client, password, stored_tokens,
    wait_until,
};

/// How many times each race is run.
const ROUNDS: usize = 40;
/// Concurrent authorized calls in each round.
const CALLS: usize = 20;

/// Each round: 20 calls with an expired access token start one refresh; logout is called while
/// it is in flight. On even rounds the server holds the refresh before processing it, so the
/// logout reaches the server first. On odd rounds the server has already rotated the tokens
/// and the front holds the answer back, so the client receives fresh, server-valid tokens only
/// after its logout: the fence must drop them, and the server must have ended them with the
/// session.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_in_flight_cannot_log_the_user_back_in_after_logout() -> TestResult {
    let server = TestServer::with_refresh_delay(Duration::from_millis(30)).await;
    server.register("alice").await;
    let front = Front::start(&server).await;
    let mut answers_dropped = 0;

    for round in 0..ROUNDS {
        let answer_after_logout = round % 2 == 1;
        front.hold_refresh_answers(answer_after_logout);
        let store = adieu_client::MemoryStore::new();
        let device = client(&front.url, &store).await;
        device.login("alice", &password()).await?;
        let old = stored_tokens(&store).unwrap();
        server.clock.advance(PAST_ACCESS_TTL);
        let (requests, held, issued) =
            (front.refresh_requests(), front.held(), front.issued().len());

        let calls: Vec<_> = (0..CALLS)
            .map(|_| {
                let device = device.clone();
                tokio::spawn(async move { device.me().await })
            })
            .collect();
        if answer_after_logout {
            wait_until("the server rotated and the answer is held", || {
                front.held() > held
            })
            .await;
        } else {
            wait_until("the refresh reached the server", || {
                front.refresh_requests() > requests
            })
            .await;
        }

        let outcome = device.logout().await?;
        assert_eq!(outcome, LogoutOutcome::Revoked, "round {round}");
        assert!(
            store.load_contents().is_empty(),
            "round {round}: cleared at once"
        );
        if answer_after_logout {
            front.release_one();
        }
        for call in calls {
            let result = call.await?;
            let err = result.expect_err("no call may succeed once logout has returned");
            assert!(err.is_unauthorized(), "round {round}: {err}");
        }

        assert!(
            store.load_contents().is_empty(),
            "round {round}: stays empty"
        );
        assert!(device.session().is_none(), "round {round}");
        assert_eq!(
            front.refresh_requests(),
            requests + 1,
            "round {round}: one refresh"
        );
        let obtained = &front.issued()[issued..];
        if answer_after_logout {
            assert_eq!(obtained.len(), 1, "round {round}: the refresh got tokens");
            answers_dropped += 1;
        }
        for (access, refresh) in obtained.iter().chain([&old]) {
            assert_eq!(server.me_status(access).await, 401, "round {round}");
            assert_eq!(server.refresh_status(refresh).await, 401, "round {round}");
        }
    }
    assert_eq!(answers_dropped, ROUNDS / 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_with_an_expired_access_token_share_one_refresh() -> TestResult {
    let server = TestServer::with_refresh_delay(Duration::from_millis(20)).await;
    server.register("alice").await;
    let front = Front::start(&server).await;

    for round in 0..10 {
        let store = adieu_client::MemoryStore::new();
        let device = client(&front.url, &store).await;
        let session = device.login("alice", &password()).await?.session_id;
        server.clock.advance(PAST_ACCESS_TTL);
        let before = front.refresh_requests();

        let calls: Vec<_> = (0..CALLS)
            .map(|_| {
                let device = device.clone();
                tokio::spawn(async move { device.me().await })
            })
            .collect();
        for call in calls {
            let me = call.await??;
            assert_eq!(me.session_id, session, "round {round}");
        }

        assert_eq!(
            front.refresh_requests() - before,
            1,
            "round {round}: exactly one refresh"
        );
        // A second refresh with the same token would have looked like theft and ended the
        // session; it is alive, and the stored pair works.
        let (access, _) = stored_tokens(&store).unwrap();
        assert_eq!(server.me_status(&access).await, 200, "round {round}");
        let sessions = device.sessions().await?;
        assert!(
            sessions.iter().any(|s| s.id == session && s.current),
            "round {round}"
        );
        assert_eq!(device.logout().await?, LogoutOutcome::Revoked);
    }
    Ok(())
}
