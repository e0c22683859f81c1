//! `adieu admin …`, `adieu account delete` and `adieu activity` against a real server.

use std::path::Path;

use adieu_server::test_support::TestServer;

use super::{
    Run, TestResult, adieu, adieu_with, assert_one_clear_line, config_dir, password_line,
    stored_refresh_token,
};

/// `adieu admin keys ARGS` on the database at `database_url`.
async fn keys(config: &Path, database_url: &str, args: &[&str]) -> Run {
    let mut all = vec!["admin", "keys"];
    all.extend_from_slice(args);
    adieu_with(config, &all, "", &[("ADIEU_DATABASE_URL", database_url)]).await
}

/// A server on `database_url` with an operators' listener.
async fn admin_server(database_url: &str) -> TestServer {
    let url = database_url.to_owned();
    TestServer::spawn_with(move |c| {
        c.database_url = url;
        c.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
}

/// An operator's view of one server: its admin URL and a key made with the CLI.
struct Operator {
    server: TestServer,
    admin_url: String,
    key: String,
    database_url: String,
    root: tempfile::TempDir,
}

impl Operator {
    /// A key made by `adieu admin keys create` on a fresh database, then a server on it.
    async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let database_url = format!("sqlite://{}", root.path().join("adieu.db").display());
        let run = keys(root.path(), &database_url, &["create", "--name", "ops"]).await;
        assert_eq!(run.code, 0, "{run:?}");
        let key = run.stdout.trim().to_owned();
        let server = admin_server(&database_url).await;
        let admin_url = format!("http://{}", server.admin_addr.expect("an admin listener"));
        Self {
            server,
            admin_url,
            key,
            database_url,
            root,
        }
    }

    /// `adieu admin ARGS` with the key in ADIEU_ADMIN_KEY.
    async fn admin(&self, args: &[&str], stdin: &str) -> Run {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        let env = [
            ("ADIEU_ADMIN_URL", self.admin_url.as_str()),
            ("ADIEU_ADMIN_KEY", self.key.as_str()),
        ];
        adieu_with(self.root.path(), &all, stdin, &env).await
    }

    /// `adieu admin ARGS --json`, parsed; must succeed.
    async fn admin_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let run = self.admin(&all, "").await;
        assert_eq!(run.code, 0, "{run:?}");
        serde_json::from_str(&run.stdout).expect("JSON on stdout")
    }

    /// The id of the user `name`, as `admin users show --json` gives it.
    async fn user_id(&self, name: &str) -> String {
        let shown = self.admin_json(&["users", "show", name]).await;
        shown["user"]["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_keys_are_created_listed_and_revoked_on_the_database_itself() -> TestResult {
    let root = tempfile::tempdir()?;
    let config = config_dir(&root, "adieu");
    let database_url = format!("sqlite://{}", root.path().join("adieu.db").display());

    let run = keys(&config, &database_url, &["create", "--name", "ops"]).await;

    assert_eq!(run.code, 0, "{run:?}");
    let key = run.stdout.trim();
    assert!(key.starts_with("adieu_ak_"), "{run:?}");
    assert_eq!(run.stdout.lines().count(), 1, "only the key on stdout");
    assert!(run.stderr.contains("shown only once"), "{run:?}");
    let run = keys(&config, &database_url, &["create", "--name", "ops"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("exists already"), "{run:?}");
    let run = keys(&config, &database_url, &["create", "--name", "two words"]).await;
    assert_eq!(run.code, 2, "{run:?}");

    let run = keys(&config, &database_url, &["list"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("NAME"), "{run:?}");
    assert!(run.stdout.contains("1 key(s), 1 live"), "{run:?}");
    assert!(!run.stdout.contains(key), "the key is never listed");

    let run = keys(&config, &database_url, &["revoke", "ops"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let run = keys(&config, &database_url, &["revoke", "ops"]).await;
    assert_eq!(run.code, 1, "revoking twice: {run:?}");
    assert!(run.stderr.contains("no live admin key"), "{run:?}");
    let run = keys(&config, &database_url, &["list", "--json"]).await;
    let list: serde_json::Value = serde_json::from_str(&run.stdout)?;
    assert_eq!(list["keys"][0]["name"], "ops");
    assert!(list["keys"][0]["revoked_at"].is_string(), "{list}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_made_by_the_cli_opens_the_admin_api_until_it_is_revoked() -> TestResult {
    let op = Operator::start().await;
    op.server.register("alice").await;

    let list = op.admin_json(&["users", "list"]).await;
    assert_eq!(list["users"][0]["username"], "alice");

    // Revoked on the database while the server runs: refused at the next call.
    let run = keys(op.root.path(), &op.database_url, &["revoke", "ops"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let run = op.admin(&["users", "list"], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("refused the admin key"), "{run:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_key_comes_from_the_environment_or_a_file_and_its_absence_is_a_usage_error()
-> TestResult {
    let op = Operator::start().await;
    op.server.register("alice").await;
    let config = op.root.path();
    let url = [("ADIEU_ADMIN_URL", op.admin_url.as_str())];

    let run = adieu_with(config, &["admin", "users", "list"], "", &url).await;

    assert_eq!(run.code, 2, "{run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("ADIEU_ADMIN_KEY"), "{run:?}");
    assert!(run.stderr.contains("--admin-key-file"), "{run:?}");

    let file = config.join("admin.key");
    std::fs::write(&file, format!("{}\n", op.key))?;
    let file = file.to_str().unwrap();
    let run = adieu_with(
        config,
        &["admin", "users", "list", "--admin-key-file", file],
        "",
        &url,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("alice"), "{run:?}");

    let run = adieu_with(
        config,
        &["admin", "audit"],
        "",
        &[("ADIEU_ADMIN_KEY", op.key.as_str())],
    )
    .await;
    assert_eq!(run.code, 2, "no admin URL: {run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("--admin-url"), "{run:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_lists_shows_logs_out_disables_enables_and_deletes_users() -> TestResult {
    let op = Operator::start().await;
    let root = tempfile::tempdir()?;
    let device = config_dir(&root, "device");
    let url = op.server.base();
    for name in ["alice", "bob", "carol"] {
        op.server.register(name).await;
    }
    let login = ["login", "--server", &url, "-u", "alice", "--password-stdin"];
    assert_eq!(adieu(&device, &login, &password_line()).await.code, 0);

    // Everyone, a query, a limit; and a table for people.
    let all = op.admin_json(&["users", "list"]).await;
    let names: Vec<_> = all["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let some = op
        .admin_json(&["users", "list", "--query", "AR", "--limit", "5"])
        .await;
    assert_eq!(some["users"][0]["username"], "carol");
    assert_eq!(some["users"].as_array().unwrap().len(), 1);
    let one = op.admin_json(&["users", "list", "--limit", "1"]).await;
    assert_eq!(one["users"].as_array().unwrap().len(), 1);
    let run = op.admin(&["users", "list"], "").await;
    assert!(run.stdout.starts_with("ID"), "{run:?}");
    assert!(run.stdout.contains("3 user(s)"), "{run:?}");

    // Shown by name or by id, with the session of the device.
    let run = adieu(&device, &["whoami", "--json"], "").await;
    let me: serde_json::Value = serde_json::from_str(&run.stdout)?;
    let session = me["session_id"].as_str().unwrap().to_owned();
    let alice = op.user_id("Alice").await;
    let shown = op.admin_json(&["users", "show", &alice]).await;
    assert_eq!(shown["user"]["username"], "alice");
    assert_eq!(shown["sessions"][0]["id"], session.as_str());
    let run = op.admin(&["users", "show", "alice"], "").await;
    assert!(run.stdout.contains(&session), "{run:?}");
    let run = op.admin(&["users", "show", "nobody"], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_one_clear_line(&run);

    // Logout: the device's session ends.
    let run = op.admin(&["users", "logout", &alice], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("ended 1 session(s)"), "{run:?}");
    assert_eq!(adieu(&device, &["whoami"], "").await.code, 1);

    // Disable: logins refused, sessions ended; enable: back in.
    assert_eq!(adieu(&device, &login, &password_line()).await.code, 0);
    let run = op.admin(&["users", "disable", "alice"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("ended 1 session(s)"), "{run:?}");
    let run = adieu(&device, &login, &password_line()).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("disabled"), "{run:?}");
    let listed = op.admin_json(&["users", "list", "--query", "alice"]).await;
    assert_eq!(listed["users"][0]["disabled"], true);
    let run = op.admin(&["users", "enable", "alice"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(adieu(&device, &login, &password_line()).await.code, 0);

    // One session, by its id.
    let refresh = stored_refresh_token(&device).unwrap();
    let shown = op.admin_json(&["users", "show", "alice"]).await;
    let session = shown["sessions"][0]["id"].as_str().unwrap().to_owned();
    let run = op.admin(&["sessions", "revoke", &session], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(op.server.refresh_status(&refresh).await, 401);
    let run = op.admin(&["sessions", "revoke", &session], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("no live session"), "{run:?}");

    // Delete: refused without --yes when there is no terminal to ask on.
    let run = op.admin(&["users", "delete", "bob"], "y\n").await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("--yes"), "{run:?}");
    assert_eq!(op.admin(&["users", "show", "bob"], "").await.code, 0);
    let run = op.admin(&["users", "delete", "bob", "--yes"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Deleted bob"), "{run:?}");
    assert_eq!(op.admin(&["users", "show", "bob"], "").await.code, 1);
    let r = op
        .server
        .try_login("bob", adieu_server::test_support::PASSWORD)
        .await;
    assert_eq!(r.status(), 401);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_audit_finds_a_user_by_name_and_filters_by_kind() -> TestResult {
    let op = Operator::start().await;
    op.server.user("alice").await;
    op.server.user("bob").await;
    let _ = op.server.try_login("bob", "not the password").await;
    let bob = op.user_id("bob").await;
    op.admin(&["users", "logout", "bob"], "").await;

    let events = op.admin_json(&["audit", "--user", "BOB"]).await;

    let events = events["events"].as_array().unwrap().clone();
    assert!(
        events.iter().all(|e| e["user_id"] == bob.as_str()),
        "{events:?}"
    );
    let kinds: Vec<_> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["admin_revoked", "login_failed", "login", "register"]
    );
    assert_eq!(events[0]["actor"], "ops");

    let failed = op
        .admin_json(&["audit", "--kind", "login_failed", "--limit", "10"])
        .await;
    assert_eq!(failed["events"].as_array().unwrap().len(), 1);
    let since = op
        .admin_json(&["audit", "--since", "2999-01-01T00:00:00Z"])
        .await;
    assert!(since["events"].as_array().unwrap().is_empty());
    let run = op.admin(&["audit", "--user", "bob"], "").await;
    assert!(run.stdout.starts_with("WHEN"), "{run:?}");
    assert!(run.stdout.contains("admin_revoked"), "{run:?}");

    let run = op.admin(&["audit", "--user", "nobody"], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("no user named \"nobody\""), "{run:?}");
    let run = op.admin(&["audit", "--kind", "frobnicated"], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("kind must be one of"), "{run:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn account_delete_confirms_by_password_and_wipes_the_device_and_activity_lists_it()
-> TestResult {
    let server = TestServer::spawn().await;
    let root = tempfile::tempdir()?;
    let config = config_dir(&root, "adieu");
    let url = server.base();
    let register = [
        "register",
        "--server",
        &url,
        "-u",
        "alice",
        "--password-stdin",
    ];
    assert_eq!(adieu(&config, &register, &password_line()).await.code, 0);
    let login = ["login", "-u", "alice", "--password-stdin"];
    assert_eq!(adieu(&config, &login, &password_line()).await.code, 0);
    let refresh = stored_refresh_token(&config).unwrap();

    let run = adieu(&config, &["activity"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("WHEN"), "{run:?}");
    assert!(run.stdout.contains("Signed in"), "{run:?}");
    let run = adieu(&config, &["activity", "--json"], "").await;
    let activity: serde_json::Value = serde_json::from_str(&run.stdout)?;
    assert_eq!(activity["events"][0]["event"], "login");

    let delete = ["account", "delete", "--password-stdin"];
    let run = adieu(&config, &delete, &password_line()).await;
    assert_eq!(run.code, 2, "no terminal, no --yes: {run:?}");
    assert_one_clear_line(&run);
    let delete = ["account", "delete", "--password-stdin", "--yes"];
    let run = adieu(&config, &delete, "not the password\n").await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("wrong username or password"), "{run:?}");
    assert_eq!(stored_refresh_token(&config), Some(refresh.clone()));
    assert_eq!(adieu(&config, &["whoami"], "").await.code, 0);

    let run = adieu(&config, &delete, &password_line()).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Deleted the account alice"), "{run:?}");
    assert!(stored_refresh_token(&config).is_none());
    assert_eq!(server.refresh_status(&refresh).await, 401);
    let run = adieu(&config, &["whoami"], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("not logged in"), "{run:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_creates_lists_and_deletes_oauth_clients() {
    let op = Operator::start().await;
    let created = op.admin_json(&["clients", "create", "billing api"]).await;
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("adieu_cs_"), "{created}");
    // The secret works at the introspection endpoint of the same server.
    let login = op.server.user("alice").await;
    let r = op
        .server
        .client
        .post(op.server.url("/oauth2/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", login.access.as_str())])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["active"], true, "{body}");
    let listed = op.admin_json(&["clients", "list"]).await;
    assert_eq!(listed["clients"][0]["client_id"], id.as_str());
    assert!(!listed.to_string().contains(&secret), "never listed again");
    let table = op.admin(&["clients", "list"], "").await;
    assert!(table.stdout.starts_with("CLIENT ID"), "{table:?}");
    assert!(table.stdout.contains("billing api"), "{table:?}");
    let run = op.admin(&["clients", "delete", &id], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    let again = op.admin(&["clients", "delete", &id], "").await;
    assert_eq!(again.code, 1, "{again:?}");
    assert_one_clear_line(&again);
    let r = op
        .server
        .client
        .post(op.server.url("/oauth2/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", login.access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
}
