//! `adieu admin clients`: the OAuth clients (resource servers) that may introspect tokens.

use std::process::ExitCode;

use adieu_types::{ClientInfo, ClientsResponse, NewClientResponse};
use anyhow::Context;
use clap::{Args, Subcommand};
use reqwest::Method;

use super::api::{AdminApi, AdminApiArgs};
use crate::commands::say;
use crate::table::{self, when_exactly};

/// Flags of `adieu admin clients`.
#[derive(Debug, Args)]
pub(crate) struct ClientsArgs {
    #[command(subcommand)]
    action: ClientsAction,
    #[command(flatten)]
    api: AdminApiArgs,
}

#[derive(Debug, Subcommand)]
enum ClientsAction {
    /// Create a client; its secret is printed once, on standard output
    Create {
        /// What to call it (the resource server), 1 to 100 characters
        name: String,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// List the clients (never their secrets)
    List {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Delete a client: every node refuses it once this returns
    Delete {
        /// The client id, as listed
        id: String,
    },
}

/// Runs one `adieu admin clients` command.
pub(crate) async fn run(args: ClientsArgs) -> anyhow::Result<ExitCode> {
    let api = AdminApi::new(&args.api)?;
    match args.action {
        ClientsAction::Create { name, json } => {
            let created: NewClientResponse = api
                .json(
                    api.request(Method::POST, &["clients"])
                        .json(&serde_json::json!({ "name": name })),
                )
                .await
                .context("creating the client")?;
            if json {
                say(&format!(
                    "{:#}\n",
                    serde_json::json!({
                        "client_id": created.client_id,
                        "client_secret": created.client_secret.expose(),
                        "name": created.name,
                    })
                ));
            } else {
                say(&format!(
                    "client_id={}\nclient_secret={}\n",
                    created.client_id,
                    created.client_secret.expose()
                ));
            }
            eprintln!(
                "The client secret is shown this once: store it with the resource server now."
            );
        }
        ClientsAction::List { json } => {
            let list: ClientsResponse = api
                .json(api.request(Method::GET, &["clients"]))
                .await
                .context("listing the clients")?;
            if json {
                say(&format!("{:#}\n", serde_json::json!(list)));
            } else {
                say(&clients_table(&list.clients));
            }
        }
        ClientsAction::Delete { id } => {
            api.send(api.request(Method::DELETE, &["clients", &id]))
                .await
                .context("deleting the client")?;
            say(&format!("client {id} deleted\n"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn clients_table(clients: &[ClientInfo]) -> String {
    let rows: Vec<[String; 3]> = clients
        .iter()
        .map(|c| {
            [
                c.client_id.clone(),
                c.name.clone(),
                when_exactly(c.created_at),
            ]
        })
        .collect();
    let mut text = table::render(["CLIENT ID", "NAME", "CREATED"], &rows);
    text.push_str(&format!("{} client(s)\n", clients.len()));
    text
}
