//! The OAuth endpoints as a real OAuth client library sees them.

use reqwest::StatusCode;

use crate::oauth::OAuthApp;

/// Runs `scripts/authlib_client.py` with the Python that `ADIEU_TEST_AUTHLIB_PYTHON` names
/// (one with Authlib and requests installed; `.ci/run` pins both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Python with Authlib: set ADIEU_TEST_AUTHLIB_PYTHON"]
async fn authlib_discovers_introspects_and_revokes() {
    let python = std::env::var("ADIEU_TEST_AUTHLIB_PYTHON")
        .expect("ADIEU_TEST_AUTHLIB_PYTHON names a Python with Authlib");
    let oauth = OAuthApp::spawn().await;
    let login = oauth.app().user("alice").await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/scripts/authlib_client.py"
    );
    let output = tokio::process::Command::new(python)
        .arg(script)
        .args([
            oauth.app().base().as_str(),
            &oauth.client_id,
            &oauth.client_secret,
            &login.access,
            &login.refresh,
        ])
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "the Authlib client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // And the server agrees: the session is over.
    assert_eq!(
        oauth.app().me_status(&login.access).await,
        StatusCode::UNAUTHORIZED
    );
}
