//! `adieu`: serve the session service, or use it from the command line.

mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Adieu: sessions whose logout really ends them.
#[derive(Debug, Parser)]
#[command(name = "adieu", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (JSON API and web pages).
    Serve(serve::ServeArgs),
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
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("adieu: {e:#}");
            ExitCode::FAILURE
        }
    }
}
