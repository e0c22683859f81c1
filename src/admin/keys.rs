//! `adieu admin keys`: admin keys, made and revoked on the database itself. Only a key's
//! hash is stored; the key is printed once, when it is made.

use std::process::ExitCode;

use adieu_core::{Clock, SystemClock, UnixMillis};
use adieu_store::{StoreError, StoreOptions};
use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use crate::commands::say;
use crate::table::{self, when};

/// Flags of `adieu admin keys`.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    action: KeysAction,
    /// The server's database: sqlite://FILE or postgres://… (as for `adieu serve`)
    #[arg(
        long,
        env = "ADIEU_DATABASE_URL",
        default_value = "sqlite://adieu.db",
        hide_env_values = true,
        global = true
    )]
    database_url: String,
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Make a new admin key and print it, once
    Create {
        /// A name for the key, recorded as the actor of everything done with it
        /// (letters, digits, '-', '_' and '.')
        #[arg(long, value_parser = key_name)]
        name: String,
    },
    /// List the admin keys (never the keys themselves, which are not stored)
    List {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Revoke an admin key: from now on the admin API refuses it
    Revoke {
        /// The key's name, as listed
        name: String,
    },
}

/// A key name: 1 to 64 letters, digits, '-', '_' or '.'.
fn key_name(name: &str) -> Result<String, String> {
    let fits = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if fits {
        Ok(name.to_owned())
    } else {
        Err("must be 1 to 64 letters, digits, '-', '_' or '.'".into())
    }
}

/// Runs one `adieu admin keys` command.
pub(crate) async fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let database = adieu_server::config::redact_url(&args.database_url);
    let options = StoreOptions {
        cache: false,
        ..StoreOptions::default()
    };
    let storage = adieu_store::connect(&args.database_url, &options)
        .await
        .with_context(|| format!("opening the database {database}"))?;
    let store = storage.store();
    let now = SystemClock.now();
    let result = match args.action {
        KeysAction::Create { name } => {
            let issued = adieu_core::token::issue_admin_key();
            match store.create_admin_key(&name, &issued.hash, now).await {
                Ok(()) => {
                    eprintln!(
                        "adieu: admin key {name:?} created in {database}. It is shown only \
                         once, on standard output: keep it now (in a file only you can read)."
                    );
                    say(&format!("{}\n", issued.secret.expose()));
                    Ok(ExitCode::SUCCESS)
                }
                Err(StoreError::KeyNameTaken) => Err(anyhow!(
                    "an admin key named {name:?} exists already (revoked keys keep their \
                     names); choose another name"
                )),
                Err(e) => Err(anyhow::Error::new(e).context("creating the admin key")),
            }
        }
        KeysAction::List { json } => match store.admin_keys().await {
            Ok(keys) => {
                if json {
                    let keys: Vec<_> = keys
                        .iter()
                        .map(|k| {
                            serde_json::json!({
                                "name": k.name,
                                "created_at": rfc3339(k.created_at),
                                "revoked_at": k.revoked_at.map(rfc3339),
                            })
                        })
                        .collect();
                    say(&format!("{:#}\n", serde_json::json!({ "keys": keys })));
                } else {
                    let rows: Vec<[String; 3]> = keys
                        .iter()
                        .map(|k| {
                            [
                                k.name.clone(),
                                when(datetime(k.created_at)),
                                k.revoked_at
                                    .map_or_else(|| "-".to_owned(), |at| when(datetime(at))),
                            ]
                        })
                        .collect();
                    let mut text = table::render(["NAME", "CREATED", "REVOKED"], &rows);
                    let live = keys.iter().filter(|k| k.revoked_at.is_none()).count();
                    text.push_str(&format!("{} key(s), {live} live\n", keys.len()));
                    say(&text);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(anyhow::Error::new(e).context("listing the admin keys")),
        },
        KeysAction::Revoke { name } => match store.revoke_admin_key(&name, now).await {
            Ok(true) => {
                say(&format!(
                    "Revoked admin key {name:?}: the admin API refuses it from now on.\n"
                ));
                Ok(ExitCode::SUCCESS)
            }
            Ok(false) => Err(anyhow!(
                "no live admin key named {name:?} (see `adieu admin keys list`)"
            )),
            Err(e) => Err(anyhow::Error::new(e).context("revoking the admin key")),
        },
    };
    // A PostgreSQL store leaves the cluster, so that no logout waits for this process.
    store.close().await;
    result
}

fn datetime(at: UnixMillis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn rfc3339(at: UnixMillis) -> String {
    datetime(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
