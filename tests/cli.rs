//! The `adieu` binary's client commands against a real server in this process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

use adieu_server::test_support::{PASSWORD, TestServer};

/// What a run of the binary left.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `adieu ARGS` with its configuration in `config`, feeding `stdin`.
async fn adieu(config: &Path, args: &[&str], stdin: &str) -> Run {
    adieu_with(config, args, stdin, &[]).await
}

/// [`adieu`] with these environment variables set too.
async fn adieu_with(config: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let config = config.to_owned();
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    let stdin = stdin.to_owned();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_adieu"))
            .args(&args)
            .env("ADIEU_CONFIG_DIR", &config)
            .env_remove("ADIEU_SERVER")
            .env_remove("ADIEU_ADMIN_URL")
            .env_remove("ADIEU_ADMIN_KEY")
            .env_remove("ADIEU_DATABASE_URL")
            .envs(env)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the adieu binary starts");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    })
    .await
    .unwrap()
}

fn password_line() -> String {
    format!("{PASSWORD}\n")
}

/// The refresh token in a credentials file, if the file holds a session.
fn stored_refresh_token(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config.join("credentials.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    Some(json["session"]["refresh_token"].as_str()?.to_owned())
}

fn config_dir(root: &TempDir, name: &str) -> PathBuf {
    root.path().join(name)
}

/// Errors are one line, prefixed, with no panic or debug dump.
fn assert_one_clear_line(run: &Run) {
    let lines: Vec<_> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {:?}", run.stderr);
    assert!(lines[0].starts_with("adieu: "), "{:?}", run.stderr);
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("{ "),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_whoami_sessions_logout_flow_works_for_a_new_user() -> TestResult {
    let server = TestServer::spawn().await;
    let root = tempfile::tempdir()?;
    let config = config_dir(&root, "adieu");
    let url = server.base();

    let run = adieu(
        &config,
        &[
            "register",
            "--server",
            &url,
            "--username",
            "alice",
            "--password-stdin",
        ],
        &password_line(),
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Registered alice"), "{run:?}");

    // The server was remembered by `register`: no --server needed from here on.
    let run = adieu(
        &config,
        &["login", "--username", "alice", "--password-stdin"],
        &password_line(),
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Logged in"), "{run:?}");
    let refresh = stored_refresh_token(&config).expect("the login stored a session");

    let run = adieu(&config, &["whoami"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("alice at "), "{run:?}");
    let run = adieu(&config, &["whoami", "--json"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    let me: serde_json::Value = serde_json::from_str(&run.stdout)?;
    assert_eq!(me["username"], "alice");
    let session_id = me["session_id"].as_str().unwrap().to_owned();

    let run = adieu(&config, &["sessions"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    let marked: Vec<_> = run.stdout.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(marked.len(), 1, "{run:?}");
    assert!(marked[0].contains(&session_id), "{run:?}");
    let run = adieu(&config, &["sessions", "--json"], "").await;
    let list: serde_json::Value = serde_json::from_str(&run.stdout)?;
    assert_eq!(list["sessions"][0]["id"], session_id.as_str());
    assert_eq!(list["sessions"][0]["current"], true);

    let run = adieu(&config, &["logout"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("Logged out. The server has ended this session"),
        "{run:?}"
    );
    assert_eq!(server.refresh_status(&refresh).await, 401);
    let file = std::fs::read_to_string(config.join("credentials.json"))?;
    assert!(
        !file.contains("adieu_rt_") && !file.contains("adieu_at_"),
        "{file}"
    );

    let run = adieu(&config, &["whoami"], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("not logged in"), "{run:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_with_a_wrong_password_exits_1_with_a_clear_message() -> TestResult {
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

    let run = adieu(
        &config,
        &["login", "--server", &url, "-u", "alice", "--password-stdin"],
        "not the password\n",
    )
    .await;

    assert_eq!(run.code, 1, "{run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("wrong username or password"), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(stored_refresh_token(&config).is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2() -> TestResult {
    let root = tempfile::tempdir()?;
    let config = config_dir(&root, "adieu");
    for args in [
        &["logout", "--all", "--retry"][..],
        &["sessions", "revoke"][..],
        &[
            "login",
            "--server",
            "http://127.0.0.1:9",
            "--password-stdin",
        ][..],
        &["whoami", "--frobnicate"][..],
    ] {
        let run = adieu(&config, args, "").await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_the_server_cannot_hear_exits_1_says_so_and_is_retried() -> TestResult {
    let mut server = TestServer::spawn().await;
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
    server.stop().await;

    let run = adieu(&config, &["logout"], "").await;

    assert_eq!(run.code, 1, "LocalOnly is a failure: {run:?}");
    assert!(
        run.stdout.contains("Logged out on this device only"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("may still be active on the server"),
        "{run:?}"
    );
    assert!(run.stdout.contains("adieu logout --retry"), "{run:?}");
    assert!(
        stored_refresh_token(&config).is_none(),
        "no usable session left"
    );
    let run = adieu(&config, &["logout", "--retry"], "").await;
    assert_eq!(run.code, 1, "still down: {run:?}");
    assert!(run.stdout.contains("Still pending"), "{run:?}");

    server.restart().await;
    let run = adieu(&config, &["logout", "--retry"], "").await;

    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("the server has ended session"),
        "{run:?}"
    );
    assert_eq!(server.refresh_status(&refresh).await, 401);
    let run = adieu(&config, &["logout", "--retry"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("No revocation is pending"), "{run:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_revoke_ends_another_device_and_logout_all_ends_every_one() -> TestResult {
    let server = TestServer::spawn().await;
    let root = tempfile::tempdir()?;
    let laptop = config_dir(&root, "laptop");
    let phone = config_dir(&root, "phone");
    let tablet = config_dir(&root, "tablet");
    let url = server.base();
    let register = [
        "register",
        "--server",
        &url,
        "-u",
        "alice",
        "--password-stdin",
    ];
    assert_eq!(adieu(&laptop, &register, &password_line()).await.code, 0);
    for device in [&laptop, &phone, &tablet] {
        let login = ["login", "--server", &url, "-u", "alice", "--password-stdin"];
        assert_eq!(adieu(device, &login, &password_line()).await.code, 0);
    }
    let run = adieu(&phone, &["whoami", "--json"], "").await;
    let me: serde_json::Value = serde_json::from_str(&run.stdout)?;
    let phone_session = me["session_id"].as_str().unwrap().to_owned();

    let run = adieu(&laptop, &["sessions", "revoke", &phone_session], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    let run = adieu(&phone, &["whoami"], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_one_clear_line(&run);
    assert!(run.stderr.contains("the session has ended"), "{run:?}");

    let run = adieu(&laptop, &["logout", "--all"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("ended 2 session(s)"), "{run:?}");
    let run = adieu(&tablet, &["whoami"], "").await;
    assert_eq!(run.code, 1, "{run:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_stored_session_even_if_the_remembered_server_is_lost() -> TestResult {
    let mut server = TestServer::spawn().await;
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
    std::fs::remove_file(config.join("config.json"))?;

    let run = adieu(&config, &["logout"], "").await;

    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("Logged out. The server has ended this session"),
        "{run:?}"
    );
    assert_eq!(server.refresh_status(&refresh).await, 401);
    assert!(stored_refresh_token(&config).is_none());

    // A revocation left pending is not stranded either.
    let login = ["login", "--server", &url, "-u", "alice", "--password-stdin"];
    assert_eq!(adieu(&config, &login, &password_line()).await.code, 0);
    let refresh = stored_refresh_token(&config).unwrap();
    server.stop().await;
    assert_eq!(adieu(&config, &["logout"], "").await.code, 1);
    std::fs::remove_file(config.join("config.json"))?;
    server.restart().await;

    let run = adieu(&config, &["logout", "--retry"], "").await;

    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("the server has ended session"),
        "{run:?}"
    );
    assert_eq!(server.refresh_status(&refresh).await, 401);
    let run = adieu(&config, &["logout"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Not logged in"), "{run:?}");
    Ok(())
}

/// The remembered server is written like the credentials: private, through a new temporary
/// file (a stale one, even a symlink planted in its place, is replaced, never followed).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_remembered_server_is_written_privately_and_atomically() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::spawn().await;
    let root = tempfile::tempdir()?;
    let config = config_dir(&root, "adieu");
    std::fs::create_dir(&config)?;
    let elsewhere = root.path().join("elsewhere.txt");
    std::fs::write(&elsewhere, "not adieu's\n")?;
    std::os::unix::fs::symlink(&elsewhere, config.join(".config.json.tmp"))?;
    let url = server.base();

    let register = [
        "register",
        "--server",
        &url,
        "-u",
        "alice",
        "--password-stdin",
    ];
    let run = adieu(&config, &register, &password_line()).await;

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(std::fs::read_to_string(&elsewhere)?, "not adieu's\n");
    let path = config.join("config.json");
    let remembered: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    assert!(remembered["server"].as_str().unwrap().starts_with(&url));
    assert_eq!(
        std::fs::metadata(&path)?.permissions().mode() & 0o777,
        0o600
    );
    let leftovers: Vec<_> = std::fs::read_dir(&config)?
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != "config.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    Ok(())
}

// The operators' and the account commands, in a file of their own in this one test binary.
#[path = "cli/operating.rs"]
mod operating;
