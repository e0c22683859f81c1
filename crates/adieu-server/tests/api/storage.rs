use crate::helpers::{PASSWORD, TestApp};

/// Every byte the database has on disk: the main file, its WAL and shared memory.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(app.dir()).unwrap() {
        all.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_database_holds_no_token_and_no_password_in_clear() {
    let app = TestApp::spawn().await;
    let first = app.user("alice").await;
    let second = app.refreshed(&first.refresh).await;
    let bytes = database_bytes(&app);
    assert!(
        contains(&bytes, "alice"),
        "the scan must see the database contents"
    );
    for token in [
        &first.access,
        &first.refresh,
        &second.access,
        &second.refresh,
    ] {
        let body = &token["adieu_xx_".len()..];
        assert!(!contains(&bytes, token), "token found in the database");
        assert!(!contains(&bytes, body), "token body found in the database");
    }
    assert!(
        !contains(&bytes, PASSWORD),
        "password found in the database"
    );
}

#[tokio::test]
async fn a_stored_token_hash_cannot_be_used_as_a_token() {
    let app = TestApp::spawn().await;
    let login = app.user("alice").await;
    let hash = adieu_core::TokenHash::of(&login.access);
    use base64::Engine as _;
    let forged = format!(
        "adieu_at_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_bytes())
    );
    assert_eq!(
        app.me_status(&forged).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
}
