//! Where the `adieu` client commands keep their state: the remembered server and the
//! credentials file, in one configuration directory.

use std::fs;
use std::path::PathBuf;

use adieu_client::store::write_private_file;
use adieu_client::{Client, FileStore};
use anyhow::{Context, anyhow};
use clap::Args;

/// Name of the file that remembers the server.
const CONFIG_FILE: &str = "config.json";

/// Flags every client command takes.
#[derive(Debug, Args)]
pub(crate) struct ProfileArgs {
    /// Directory for the remembered server and the credentials file
    /// [default: the user's configuration directory, e.g. ~/.config/adieu]
    #[arg(long, env = "ADIEU_CONFIG_DIR", value_name = "DIR", global = true)]
    config_dir: Option<PathBuf>,
}

/// One configuration directory.
#[derive(Debug)]
pub(crate) struct Profile {
    dir: PathBuf,
}

impl Profile {
    pub(crate) fn open(args: &ProfileArgs) -> anyhow::Result<Self> {
        let dir = match &args.config_dir {
            Some(dir) => dir.clone(),
            None => dirs::config_dir()
                .context("could not find the user's configuration directory; use --config-dir")?
                .join("adieu"),
        };
        Ok(Self { dir })
    }

    /// The credentials file.
    pub(crate) fn store(&self) -> FileStore {
        FileStore::in_dir(&self.dir)
    }

    /// The server of the last `adieu login`, if any.
    pub(crate) fn server(&self) -> anyhow::Result<Option<String>> {
        let path = self.dir.join(CONFIG_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let config: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| anyhow!("{} is not valid JSON ({e})", path.display()))?;
        Ok(config
            .get("server")
            .and_then(|s| s.as_str())
            .map(str::to_owned))
    }

    /// The server to log out from, if this device holds anything to log out: the server of the
    /// stored session, else the remembered one, else that of a pending revocation. The
    /// credentials record their own server, so losing config.json cannot strand them.
    pub(crate) fn logout_server(&self) -> anyhow::Result<Option<String>> {
        use adieu_client::CredentialStore;
        let stored = self.store().load()?;
        if let Some(server) = stored.session_server() {
            return Ok(Some(server.to_owned()));
        }
        if let Some(server) = self.server()? {
            return Ok(Some(server));
        }
        Ok(stored
            .pending_revocations()
            .first()
            .map(|p| p.server().to_owned()))
    }

    /// The remembered server, or an error that says how to set one.
    pub(crate) fn require_server(&self) -> anyhow::Result<String> {
        self.server()?
            .ok_or_else(|| anyhow!("not logged in; run `adieu login --server URL` first"))
    }

    /// Remembers `server` for the next commands, written like the credentials file (private,
    /// atomic).
    pub(crate) fn remember_server(&self, server: &str) -> anyhow::Result<()> {
        let path = self.dir.join(CONFIG_FILE);
        let json = serde_json::json!({ "server": server });
        write_private_file(&path, format!("{json:#}\n").as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// A client of `server` on this profile's credentials file. It retries pending
    /// revocations on start unless told not to, and says so if it ended any.
    pub(crate) async fn client(
        &self,
        server: &str,
        retry_on_start: bool,
    ) -> anyhow::Result<Client> {
        let client = Client::builder(server)
            .store(self.store())
            .retry_pending_on_start(retry_on_start)
            .build()
            .await?;
        if let Some(report) = client.revocations_retried_at_start() {
            if !report.revoked.is_empty() {
                eprintln!(
                    "adieu: note: the server has now ended {} session(s) whose logout was pending",
                    report.revoked.len()
                );
            }
        }
        Ok(client)
    }
}
