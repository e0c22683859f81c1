//! The client commands: `register`, `login`, `whoami`, `sessions`, `logout`, `activity` and
//! `account delete`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use crate::Usage;
use crate::profile::{Profile, ProfileArgs};
use crate::table::{self, or_dash, when};
use adieu_client::{
    ActivityEvent, Client, LocalOnlyReason, LogoutAllOutcome, LogoutOutcome, Secret, SessionInfo,
};
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};

/// Flags of `adieu login` and `adieu register`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Server URL, e.g. https://adieu.example (http:// only for this machine); remembered for
    /// the next commands [default: the remembered one]
    #[arg(long, env = "ADIEU_SERVER")]
    server: Option<String>,
    /// Account name [default: asked for]
    #[arg(long, short)]
    username: Option<String>,
    /// Read the password from the first line of standard input instead of asking for it
    #[arg(long, requires = "username")]
    password_stdin: bool,
    #[command(flatten)]
    profile: ProfileArgs,
}

/// Flags of `adieu whoami`.
#[derive(Debug, Args)]
pub(crate) struct WhoamiArgs {
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    profile: ProfileArgs,
}

/// Flags of `adieu sessions`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct SessionsArgs {
    #[command(subcommand)]
    action: Option<SessionsAction>,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    profile: ProfileArgs,
}

#[derive(Debug, Subcommand)]
enum SessionsAction {
    /// End one of your sessions, on any device (your own: that is a logout)
    Revoke {
        /// Session id, as listed by `adieu sessions`
        id: String,
    },
}

/// Flags of `adieu logout`.
#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// End every session of your account, on every device
    #[arg(long, conflicts_with = "retry")]
    all: bool,
    /// Retry now the revocations left pending by earlier logouts
    #[arg(long)]
    retry: bool,
    #[command(flatten)]
    profile: ProfileArgs,
}

/// Flags of `adieu activity`.
#[derive(Debug, Args)]
pub(crate) struct ActivityArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    profile: ProfileArgs,
}

/// Flags of `adieu account`.
#[derive(Debug, Args)]
pub(crate) struct AccountArgs {
    #[command(subcommand)]
    action: AccountAction,
}

#[derive(Debug, Subcommand)]
enum AccountAction {
    /// Delete your account: every session of it ends, on every device, and it cannot log in
    /// again
    Delete(DeleteAccountArgs),
}

#[derive(Debug, Args)]
struct DeleteAccountArgs {
    /// Read the password from the first line of standard input instead of asking for it
    #[arg(long)]
    password_stdin: bool,
    /// Do not ask for confirmation (needed when standard input is not a terminal)
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    profile: ProfileArgs,
}

/// `adieu register`.
pub(crate) async fn register(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let profile = Profile::open(&args.profile)?;
    let server = server_of(args.server, &profile)?;
    let username = username(args.username)?;
    let password = password(args.password_stdin, true)?;
    let client = profile.client(&server, true).await?;
    let server = client.server().to_string();
    client
        .register(&username, &password)
        .await
        .with_context(|| format!("registering at {server}"))?;
    profile.remember_server(&server)?;
    say(&format!(
        "Registered {username} at {server}. Log in with: adieu login --username {username}\n"
    ));
    Ok(ExitCode::SUCCESS)
}

/// `adieu login`.
pub(crate) async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let profile = Profile::open(&args.profile)?;
    let server = server_of(args.server, &profile)?;
    let username = username(args.username)?;
    let password = password(args.password_stdin, false)?;
    let client = profile.client(&server, true).await?;
    let server = client.server().to_string();
    let session = client
        .login(&username, &password)
        .await
        .with_context(|| format!("logging in to {server}"))?;
    profile.remember_server(&server)?;
    say(&format!(
        "Logged in to {server} as {} (session {}).\n",
        session.username, session.session_id
    ));
    Ok(ExitCode::SUCCESS)
}

/// `adieu whoami`.
pub(crate) async fn whoami(args: WhoamiArgs) -> anyhow::Result<ExitCode> {
    let profile = Profile::open(&args.profile)?;
    let client = profile.client(&profile.require_server()?, true).await?;
    let me = client.me().await.map_err(explain)?;
    if args.json {
        let json = serde_json::json!({
            "server": client.server().as_str(),
            "user_id": me.user_id,
            "username": me.username,
            "session_id": me.session_id,
        });
        say(&format!("{json:#}\n"));
    } else {
        say(&format!(
            "{} at {} (session {})\n",
            me.username,
            client.server(),
            me.session_id
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `adieu sessions` and `adieu sessions revoke ID`.
pub(crate) async fn sessions(args: SessionsArgs) -> anyhow::Result<ExitCode> {
    let profile = Profile::open(&args.profile)?;
    let client = profile.client(&profile.require_server()?, true).await?;
    if let Some(SessionsAction::Revoke { id }) = args.action {
        let own = client.session().is_some_and(|s| s.session_id == id);
        client
            .revoke_session(&id)
            .await
            .map_err(explain)
            .with_context(|| format!("revoking session {id}"))?;
        if own {
            say(&format!(
                "Revoked session {id}, this device's own: you are logged out.\n"
            ));
        } else {
            say(&format!("Revoked session {id}.\n"));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let sessions = client.sessions().await.map_err(explain)?;
    if args.json {
        let json = serde_json::json!({ "sessions": sessions });
        say(&format!("{json:#}\n"));
    } else {
        say(&sessions_table(&sessions));
    }
    Ok(ExitCode::SUCCESS)
}

/// `adieu logout [--all | --retry]`.
pub(crate) async fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let profile = Profile::open(&args.profile)?;
    let Some(server) = profile.logout_server()? else {
        say("Not logged in on this device; nothing to log out.\n");
        return Ok(ExitCode::SUCCESS);
    };
    if args.retry {
        let client = profile.client(&server, false).await?;
        return retry(&client).await;
    }
    let client = profile.client(&server, true).await?;
    if args.all {
        let outcome = client.logout_all().await?;
        return Ok(report_all(&outcome));
    }
    let outcome = client.logout().await?;
    Ok(report(&outcome))
}

/// `adieu activity`.
pub(crate) async fn activity(args: ActivityArgs) -> anyhow::Result<ExitCode> {
    let profile = Profile::open(&args.profile)?;
    let client = profile.client(&profile.require_server()?, true).await?;
    let events = client.activity().await.map_err(explain)?;
    if args.json {
        let json = serde_json::json!({ "events": events });
        say(&format!("{json:#}\n"));
    } else {
        say(&activity_table(&events));
    }
    Ok(ExitCode::SUCCESS)
}

/// `adieu account delete`.
pub(crate) async fn account(args: AccountArgs) -> anyhow::Result<ExitCode> {
    let AccountAction::Delete(args) = args.action;
    let profile = Profile::open(&args.profile)?;
    let client = profile.client(&profile.require_server()?, true).await?;
    let Some(me) = client.session() else {
        return Err(explain(adieu_client::Error::NotLoggedIn));
    };
    let server = client.server().to_string();
    if !args.yes
        && !confirm(&format!(
            "Delete the account {} at {server}? Every session of it ends and it cannot be \
             undone.",
            me.username
        ))?
    {
        say("Nothing was deleted.\n");
        return Ok(ExitCode::FAILURE);
    }
    let password = password(args.password_stdin, false)?;
    let deleted = client
        .delete_account(&password)
        .await
        .map_err(explain)
        .with_context(|| format!("deleting the account {} at {server}", me.username))?;
    say(&format!(
        "Deleted the account {} at {server}. The server has ended its {} session(s); this \
         device is logged out.\n",
        me.username, deleted.revoked_sessions
    ));
    Ok(ExitCode::SUCCESS)
}

/// Asks `question` on the terminal; true for "y" or "yes". Without a terminal to ask on it
/// refuses, as a usage error: pass `--yes`.
pub(crate) fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Usage::error(
            "standard input is not a terminal to confirm on; pass --yes to go ahead",
        ));
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

async fn retry(client: &Client) -> anyhow::Result<ExitCode> {
    if client.pending_revocations().is_empty() {
        say("No revocation is pending.\n");
        return Ok(ExitCode::SUCCESS);
    }
    let report = client.retry_pending_revocations().await?;
    let mut text = String::new();
    for id in &report.revoked {
        text.push_str(&format!("Revoked: the server has ended session {id}.\n"));
    }
    for (id, reason) in &report.still_pending {
        text.push_str(&format!(
            "Still pending: session {id} may still be active on the server ({reason}).\n"
        ));
    }
    say(&text);
    Ok(if report.is_complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

const RETRY_HINT: &str =
    "It will be retried the next time adieu runs, or now with `adieu logout --retry`.";

fn local_only(reason: LocalOnlyReason, retry_pending: bool) -> String {
    let mut text = format!("Logged out on this device only: {reason}.\n");
    if retry_pending {
        text.push_str(&format!(
            "The session may still be active on the server. Its revocation is pending. {RETRY_HINT}\n"
        ));
    } else {
        text.push_str(
            "The session may still be active on the server, and its revocation could not be \
             recorded for a retry: end it from another device with `adieu sessions revoke`.\n",
        );
    }
    text
}

fn report(outcome: &LogoutOutcome) -> ExitCode {
    let (text, ok) = match outcome {
        LogoutOutcome::Revoked => (
            "Logged out. The server has ended this session; its tokens no longer work.\n".into(),
            true,
        ),
        LogoutOutcome::AlreadyEnded => (
            "Logged out. The session had already ended on the server.\n".into(),
            true,
        ),
        LogoutOutcome::LocalOnly {
            reason,
            retry_pending,
        } => (local_only(*reason, *retry_pending), false),
        LogoutOutcome::NotLoggedIn => (
            "Not logged in on this device; nothing to log out.\n".into(),
            true,
        ),
    };
    say(&text);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report_all(outcome: &LogoutAllOutcome) -> ExitCode {
    let (text, ok) = match outcome {
        LogoutAllOutcome::Revoked { sessions } => (
            format!(
                "Logged out everywhere. The server has ended {sessions} session(s), this one included.\n"
            ),
            true,
        ),
        LogoutAllOutcome::AlreadyEnded => (
            "Logged out. This session had already ended on the server, so your other sessions \
             could not be ended from here: log in again and run `adieu logout --all`.\n"
                .into(),
            false,
        ),
        LogoutAllOutcome::LocalOnly {
            reason,
            retry_pending,
        } => {
            let mut text = local_only(*reason, *retry_pending);
            text.push_str(
                "Your other sessions were NOT ended: log in again and run `adieu logout --all`.\n",
            );
            (text, false)
        }
        LogoutAllOutcome::NotLoggedIn => (
            "Not logged in on this device; nothing to log out.\n".into(),
            true,
        ),
    };
    say(&text);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The sessions as a table, the current one marked.
fn sessions_table(sessions: &[SessionInfo]) -> String {
    let rows: Vec<[String; 6]> = sessions
        .iter()
        .map(|s| {
            [
                if s.current { "*" } else { "" }.to_owned(),
                s.id.clone(),
                when(s.created_at),
                when(s.last_active_at),
                or_dash(s.ip.as_deref()),
                or_dash(s.user_agent.as_deref()),
            ]
        })
        .collect();
    let mut text = table::render(
        ["", "ID", "CREATED", "LAST ACTIVE", "IP", "USER AGENT"],
        &rows,
    );
    text.push_str(&format!(
        "{} active session(s); * = this device\n",
        sessions.len()
    ));
    text
}

/// The account's events as a table, newest first.
fn activity_table(events: &[ActivityEvent]) -> String {
    let rows: Vec<[String; 5]> = events
        .iter()
        .map(|e| {
            let what = if e.by_administrator {
                format!("{} (by an administrator)", e.description)
            } else {
                e.description.clone()
            };
            [
                table::when_exactly(e.at),
                what,
                or_dash(e.session_id.as_deref()),
                or_dash(e.ip.as_deref()),
                or_dash(e.user_agent.as_deref()),
            ]
        })
        .collect();
    let mut text = table::render(["WHEN", "WHAT", "SESSION", "IP", "USER AGENT"], &rows);
    text.push_str(&format!("{} event(s), newest first\n", events.len()));
    text
}

/// Adds a hint to the errors that mean "log in first".
fn explain(e: adieu_client::Error) -> anyhow::Error {
    match e {
        adieu_client::Error::NotLoggedIn => {
            anyhow!("not logged in; run `adieu login --server URL` first")
        }
        adieu_client::Error::SessionEnded => {
            anyhow!("the session has ended on the server; log in again with `adieu login`")
        }
        other => other.into(),
    }
}

/// The server given on the command line, or else the remembered one.
fn server_of(given: Option<String>, profile: &Profile) -> anyhow::Result<String> {
    match given {
        Some(server) => Ok(server),
        None => profile
            .server()?
            .ok_or_else(|| anyhow!("no server: pass --server URL")),
    }
}

fn username(given: Option<String>) -> anyhow::Result<String> {
    if let Some(name) = given {
        return Ok(name);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no username: pass --username");
    }
    eprint!("Username: ");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the username")?;
    let name = line.trim().to_owned();
    if name.is_empty() {
        bail!("no username given");
    }
    Ok(name)
}

/// The password, from the first line of standard input or typed without echo.
fn password(from_stdin: bool, confirm: bool) -> anyhow::Result<Secret> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let line = Secret::new(line);
        let password = line.expose().trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            bail!("no password on standard input");
        }
        return Ok(Secret::new(password));
    }
    let typed = Secret::new(
        rpassword::prompt_password("Password: ")
            .context("reading the password (no terminal? use --password-stdin)")?,
    );
    if confirm {
        let again = Secret::new(
            rpassword::prompt_password("Password (again): ").context("reading the password")?,
        );
        if typed != again {
            bail!("the passwords do not match");
        }
    }
    Ok(typed)
}

/// Writes to standard output; a closed pipe (`adieu sessions | head -1`) is not an error.
pub(crate) fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
