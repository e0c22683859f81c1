//! `adieu admin users` and `adieu admin sessions`.

use std::process::ExitCode;

use adieu_types::{AdminUser, AdminUserDetail, UserActionResponse};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;

use super::api::{AdminApi, AdminApiArgs, MAX_PAGE};
use crate::commands::{confirm, say};
use crate::table::{self, or_dash, when};

/// Flags of `adieu admin users`.
#[derive(Debug, Args)]
pub(crate) struct UsersArgs {
    #[command(subcommand)]
    action: UsersAction,
    #[command(flatten)]
    api: AdminApiArgs,
}

#[derive(Debug, Subcommand)]
enum UsersAction {
    /// List users in name order: all of them, unless --limit says how many
    List {
        /// Only users whose names contain this (case-insensitive)
        #[arg(long, default_value = "")]
        query: String,
        /// At most this many [default: all, fetched a page of 500 at a time]
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Show a user and their active sessions
    Show {
        /// The user's id, or their name
        user: String,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// End every session of a user, on every device (they can log in again)
    Logout {
        /// The user's id, or their name
        user: String,
    },
    /// Refuse a user's logins from now on, and end every session of theirs
    Disable {
        /// The user's id, or their name
        user: String,
    },
    /// Let a disabled user log in again
    Enable {
        /// The user's id, or their name
        user: String,
    },
    /// Delete a user: every session ends and the name is free again
    Delete {
        /// The user's id, or their name
        user: String,
        /// Do not ask for confirmation (needed when standard input is not a terminal)
        #[arg(long)]
        yes: bool,
    },
}

/// Flags of `adieu admin sessions`.
#[derive(Debug, Args)]
pub(crate) struct SessionsArgs {
    #[command(subcommand)]
    action: SessionsAction,
    #[command(flatten)]
    api: AdminApiArgs,
}

#[derive(Debug, Subcommand)]
enum SessionsAction {
    /// End one session of any user
    Revoke {
        /// The session id, as `adieu admin users show` lists it
        id: String,
    },
}

/// Runs one `adieu admin users` command.
pub(crate) async fn run(args: UsersArgs) -> anyhow::Result<ExitCode> {
    let api = AdminApi::new(&args.api)?;
    match args.action {
        UsersAction::List { query, limit, json } => list(&api, &query, limit, json).await,
        UsersAction::Show { user, json } => {
            let detail = api.user(&user).await?;
            if json {
                say(&format!("{:#}\n", serde_json::json!(detail)));
            } else {
                say(&show(&detail));
            }
            Ok(ExitCode::SUCCESS)
        }
        UsersAction::Logout { user } => {
            let user = api.user(&user).await?.user;
            let done = act(&api, &user, Method::POST, "logout").await?;
            say(&format!(
                "Logged out {}: the server has ended {} session(s).\n",
                user.username, done.revoked_sessions
            ));
            Ok(ExitCode::SUCCESS)
        }
        UsersAction::Disable { user } => {
            let user = api.user(&user).await?.user;
            let done = act(&api, &user, Method::POST, "disable").await?;
            say(&format!(
                "Disabled {}: their logins are refused from now on; the server has ended {} \
                 session(s).\n",
                user.username, done.revoked_sessions
            ));
            Ok(ExitCode::SUCCESS)
        }
        UsersAction::Enable { user } => {
            let user = api.user(&user).await?.user;
            act(&api, &user, Method::POST, "enable").await?;
            say(&format!(
                "Enabled {}: they can log in again.\n",
                user.username
            ));
            Ok(ExitCode::SUCCESS)
        }
        UsersAction::Delete { user, yes } => {
            let user = api.user(&user).await?.user;
            if !yes
                && !confirm(&format!(
                    "Delete the user {} ({}) and end their {} active session(s)? This cannot be \
                     undone.",
                    user.username, user.id, user.active_sessions
                ))?
            {
                say("Nothing was deleted.\n");
                return Ok(ExitCode::FAILURE);
            }
            let done = act(&api, &user, Method::DELETE, "").await?;
            say(&format!(
                "Deleted {}: the server has ended {} session(s).\n",
                user.username, done.revoked_sessions
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs one `adieu admin sessions` command.
pub(crate) async fn sessions(args: SessionsArgs) -> anyhow::Result<ExitCode> {
    let api = AdminApi::new(&args.api)?;
    let SessionsAction::Revoke { id } = args.action;
    let response = api
        .answer(api.request(Method::DELETE, &["sessions", &id]))
        .await?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        bail!("no live session {id} (it has ended already, or never existed)");
    }
    api.success(response)
        .await
        .with_context(|| format!("revoking session {id}"))?;
    say(&format!(
        "Revoked session {id}: its tokens are refused from now on.\n"
    ));
    Ok(ExitCode::SUCCESS)
}

/// `/admin/users/{id}` or `/admin/users/{id}/{what}`.
async fn act(
    api: &AdminApi,
    user: &AdminUser,
    method: Method,
    what: &str,
) -> anyhow::Result<UserActionResponse> {
    let segments: Vec<&str> = ["users", user.id.as_str(), what]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let doing = if what.is_empty() { "delete" } else { what };
    api.json(api.request(method, &segments))
        .await
        .with_context(|| format!("{doing}: {}", user.username))
}

async fn list(
    api: &AdminApi,
    query: &str,
    limit: Option<u32>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut users = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let wanted = limit.map_or(MAX_PAGE, |l| (l - users.len() as u32).min(MAX_PAGE));
        let page = api.users_page(query, wanted, after.as_deref()).await?;
        users.extend(page.users);
        match page.next {
            Some(next) if limit.is_none_or(|l| (users.len() as u32) < l) => after = Some(next),
            _ => break,
        }
    }
    if json {
        say(&format!("{:#}\n", serde_json::json!({ "users": users })));
    } else {
        say(&users_table(&users));
    }
    Ok(ExitCode::SUCCESS)
}

fn status(user: &AdminUser) -> &'static str {
    if user.disabled { "disabled" } else { "active" }
}

fn users_table(users: &[AdminUser]) -> String {
    let rows: Vec<[String; 5]> = users
        .iter()
        .map(|u| {
            [
                u.id.clone(),
                u.username.clone(),
                when(u.created_at),
                status(u).to_owned(),
                u.active_sessions.to_string(),
            ]
        })
        .collect();
    let mut text = table::render(["ID", "USERNAME", "CREATED", "STATUS", "SESSIONS"], &rows);
    text.push_str(&format!("{} user(s)\n", users.len()));
    text
}

fn show(detail: &AdminUserDetail) -> String {
    let u = &detail.user;
    let mut text = format!(
        "User:     {}\nId:       {}\nCreated:  {}\nStatus:   {}\n\n",
        u.username,
        u.id,
        when(u.created_at),
        status(u)
    );
    let rows: Vec<[String; 6]> = detail
        .sessions
        .iter()
        .map(|s| {
            [
                s.id.clone(),
                when(s.created_at),
                when(s.last_active_at),
                when(s.expires_at),
                or_dash(s.ip.as_deref()),
                or_dash(s.user_agent.as_deref()),
            ]
        })
        .collect();
    text.push_str(&table::render(
        [
            "SESSION",
            "CREATED",
            "LAST ACTIVE",
            "EXPIRES",
            "IP",
            "USER AGENT",
        ],
        &rows,
    ));
    text.push_str(&format!("{} active session(s)\n", detail.sessions.len()));
    text
}
