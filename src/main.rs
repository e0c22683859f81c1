//! `adieu`: serve the session service, or use it from the command line.

mod admin;
mod commands;
mod profile;
mod serve;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's malloc: a request allocates and frees dozens of small
/// buffers, and glibc's free list was a quarter of the server's instructions per request
/// (BENCHMARKS.md, "Where the time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Adieu: sessions whose logout really ends them.
#[derive(Debug, Parser)]
#[command(name = "adieu", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up: the size of the largest variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (JSON API and web pages).
    Serve(serve::ServeArgs),
    /// Create an account on a server.
    Register(commands::LoginArgs),
    /// Log in to a server; the server is remembered for the other commands.
    Login(commands::LoginArgs),
    /// Show who you are logged in as.
    Whoami(commands::WhoamiArgs),
    /// List your active sessions (this device marked), or revoke one.
    Sessions(commands::SessionsArgs),
    /// Log out: wipe this device's credentials and end the session on the server.
    Logout(commands::LogoutArgs),
    /// What happened to your account: logins, logouts, revocations, an administrator's actions.
    Activity(commands::ActivityArgs),
    /// Your account as a whole.
    Account(commands::AccountArgs),
    /// Operate a server: admin keys (on the database), users, sessions and the audit log (on
    /// the operators' listener).
    Admin(admin::AdminArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("adieu: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Register(args) => commands::register(args).await,
            Command::Login(args) => commands::login(args).await,
            Command::Whoami(args) => commands::whoami(args).await,
            Command::Sessions(args) => commands::sessions(args).await,
            Command::Logout(args) => commands::logout(args).await,
            Command::Activity(args) => commands::activity(args).await,
            Command::Account(args) => commands::account(args).await,
            Command::Admin(args) => admin::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("adieu: {e:#}");
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A command used wrongly in a way that clap cannot see (a missing admin key, a confirmation
/// with no terminal to ask on): exit code 2, as clap's own usage errors.
#[derive(Debug)]
pub(crate) struct Usage(String);

impl Usage {
    /// The error, ready to return.
    pub(crate) fn error(what: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Self(what.into()))
    }
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}
