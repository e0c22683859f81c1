//! `adieu admin`: the operators' commands. `keys` works on the database directly, since it
//! makes the credential that everything else needs; `users`, `sessions`, `audit` and
//! `clients` call the
//! admin API on the operators' listener (`adieu serve --admin-listen ADDR`) with an admin key.

mod api;
mod audit;
mod clients;
mod keys;
mod users;

use std::process::ExitCode;

use clap::{Args, Subcommand};

/// Flags of `adieu admin`.
#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create, list and revoke admin keys, on the database (no server needed)
    Keys(keys::KeysArgs),
    /// List and show users; end their sessions, disable, enable or delete them
    Users(users::UsersArgs),
    /// End any user's session
    Sessions(users::SessionsArgs),
    /// Read the audit log, newest first
    Audit(audit::AuditArgs),
    /// Create, list and delete the OAuth clients that may introspect tokens
    Clients(clients::ClientsArgs),
}

/// Runs one `adieu admin` command.
pub(crate) async fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AdminCommand::Keys(args) => keys::run(args).await,
        AdminCommand::Users(args) => users::run(args).await,
        AdminCommand::Sessions(args) => users::sessions(args).await,
        AdminCommand::Audit(args) => audit::run(args).await,
        AdminCommand::Clients(args) => clients::run(args).await,
    }
}
