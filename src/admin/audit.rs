//! `adieu admin audit`.

use std::process::ExitCode;

use adieu_types::{AuditEventInfo, AuditResponse};
use anyhow::{Context, anyhow};
use clap::Args;
use reqwest::Method;

use super::api::{AdminApi, AdminApiArgs};
use crate::commands::say;
use crate::table::{self, or_dash, when_exactly};

/// Flags of `adieu admin audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Only the events of this user (their name, case-insensitive)
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Only events of this kind: login, login_failed, logout, admin_revoked, user_deleted, …
    #[arg(long)]
    kind: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-12-01T00:00:00Z)
    #[arg(long, value_name = "RFC3339")]
    since: Option<String>,
    /// At most this many events (the server answers 50 by default, 500 at most)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: Option<u32>,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    api: AdminApiArgs,
}

/// Runs `adieu admin audit`.
pub(crate) async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let api = AdminApi::new(&args.api)?;
    let mut params: Vec<(&str, String)> = Vec::new();
    if let Some(name) = &args.user {
        let user = api
            .user_named(name)
            .await?
            .ok_or_else(|| anyhow!("no user named {name:?}"))?;
        params.push(("user_id", user.id));
    }
    if let Some(kind) = args.kind {
        params.push(("kind", kind));
    }
    if let Some(since) = args.since {
        params.push(("since", since));
    }
    if let Some(limit) = args.limit {
        params.push(("limit", limit.to_string()));
    }
    let answer: AuditResponse = api
        .json(api.request(Method::GET, &["audit"]).query(&params))
        .await
        .context("reading the audit log")?;
    if args.json {
        say(&format!("{:#}\n", serde_json::json!(answer)));
    } else {
        say(&audit_table(&answer.events));
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_table(events: &[AuditEventInfo]) -> String {
    let rows: Vec<[String; 6]> = events
        .iter()
        .map(|e| {
            [
                when_exactly(e.at),
                e.event.clone(),
                or_dash(e.user_id.as_deref()),
                or_dash(e.session_id.as_deref()),
                or_dash(e.ip.as_deref()),
                or_dash(e.actor.as_deref()),
            ]
        })
        .collect();
    let mut text = table::render(
        ["WHEN", "EVENT", "USER", "SESSION", "IP", "ADMIN KEY"],
        &rows,
    );
    text.push_str(&format!("{} event(s), newest first\n", events.len()));
    text
}
