use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_error};

pub(crate) async fn after_logout_every_credential_of_the_session_is_refused() {
    let app = TestApp::spawn().await;
    let first = app.user("alice").await;
    // A pair obtained by a refresh a moment before the logout.
    let second = app.refreshed(&first.refresh).await;
    assert_eq!(app.me_status(&first.access).await, StatusCode::OK);
    assert_eq!(app.me_status(&second.access).await, StatusCode::OK);

    let r = app.logout(&first.access).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"status": "logged_out"})
    );

    for access in [&first.access, &second.access] {
        let r = app.me(access).await;
        assert_eq!(
            r.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        assert_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    for refresh in [&first.refresh, &second.refresh] {
        assert_error(
            app.refresh(refresh).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    // Nor can a revoked token reach any other authenticated route.
    assert_eq!(
        app.logout_all(&second.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .client
        .get(app.url("/api/sessions"))
        .bearer_auth(&second.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

pub(crate) async fn logout_is_idempotent_and_says_nothing_about_the_token() {
    let app = TestApp::spawn().await;
    let login = app.user("alice").await;
    assert_eq!(app.logout(&login.access).await.status(), StatusCode::OK);
    let again = app.logout(&login.access).await;
    assert_eq!(again.status(), StatusCode::OK);
    // A well-formed token that was never issued gets the very same answer.
    let unknown = adieu_core::token::issue(adieu_core::TokenKind::Access);
    let r = app.logout(unknown.secret.expose()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), again.text().await.unwrap());
}

pub(crate) async fn logout_with_an_expired_access_token_still_ends_the_session() {
    let app = TestApp::spawn().await;
    let login = app.user("alice").await;
    app.advance(Duration::from_secs(16 * 60)); // past the 15-minute access token
    assert_eq!(app.me_status(&login.access).await, StatusCode::UNAUTHORIZED);

    assert_eq!(app.logout(&login.access).await.status(), StatusCode::OK);
    // The refresh token would otherwise still work: it must not.
    assert_error(
        app.refresh(&login.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

pub(crate) async fn logout_with_the_refresh_token_in_the_body_ends_the_session() {
    let app = TestApp::spawn().await;
    let login = app.user("alice").await;
    let r = app
        .post_json("/api/logout", &json!({"refresh_token": login.refresh}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.me_status(&login.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh(&login.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

pub(crate) async fn logout_without_a_credential_or_with_a_malformed_one_is_401() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.url("/api/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    for bad in [
        "nonsense",
        "adieu_at_tooshort",
        "adieu_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_error(
            app.logout(bad).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    let r = app
        .post_json("/api/logout", &json!({"refresh_token": "adieu_rt_short"}))
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let r = app.post_json("/api/logout", &json!({})).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

pub(crate) async fn logout_is_audited() {
    let app = TestApp::spawn().await;
    let login = app.user("alice").await;
    let user_id = app.user_id(&login.access).await;
    app.logout(&login.access).await;
    assert_eq!(
        app.audit_events(&user_id).await,
        ["register", "login", "logout"]
    );
}

/// 50 clients hammer the API while the session logs out. Any request that *starts* after
/// the logout's 200 arrived must fail; those in flight before may go either way.
pub(crate) async fn no_request_started_after_logout_returns_succeeds() {
    let app = Arc::new(TestApp::spawn().await);
    let login = app.user("alice").await;
    let logged_out = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..50 {
        let (app, access, logged_out) = (app.clone(), login.access.clone(), logged_out.clone());
        workers.push(tokio::spawn(async move {
            let mut after = 0;
            for _ in 0..40 {
                let started_after_logout = logged_out.load(Ordering::SeqCst);
                let status = app.me_status(&access).await;
                if started_after_logout {
                    assert_eq!(
                        status,
                        StatusCode::UNAUTHORIZED,
                        "a request after logout succeeded"
                    );
                    after += 1;
                }
            }
            after
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(app.logout(&login.access).await.status(), StatusCode::OK);
    logged_out.store(true, Ordering::SeqCst);
    let mut checked_after = 0;
    for w in workers {
        checked_after += w.await.unwrap();
    }
    assert!(
        checked_after > 0,
        "no request ran after the logout; the race was not exercised"
    );
}
