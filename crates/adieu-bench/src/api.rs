//! The few calls the benchmark makes outside its measured loops, and the login load, through
//! one pooled `reqwest::Client`.

use std::net::SocketAddr;
use std::time::Duration;

use adieu_types::{Credentials, Secret, TokenResponse};
use anyhow::{Context, bail};
use reqwest::StatusCode;

/// The password of every user the benchmark registers.
pub(crate) const PASSWORD: &str = "benchmark password, long enough";

/// A pooled client for set-up calls and for logins.
#[derive(Clone)]
pub(crate) struct Api {
    client: reqwest::Client,
}

impl Api {
    /// Builds the client; `timeout` bounds every request.
    pub(crate) fn new(timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(1024)
            .build()
            .context("building the HTTP client")?;
        Ok(Self { client })
    }

    /// `POST /api/register`.
    pub(crate) async fn register(&self, addr: SocketAddr, username: &str) -> anyhow::Result<()> {
        let status = self
            .client
            .post(format!("http://{addr}/api/register"))
            .json(&credentials(username))
            .send()
            .await?
            .status();
        if status != StatusCode::CREATED {
            bail!("register answered {status}");
        }
        Ok(())
    }

    /// `POST /api/login`, expecting success.
    pub(crate) async fn login(
        &self,
        addr: SocketAddr,
        username: &str,
    ) -> anyhow::Result<TokenResponse> {
        let response = self.login_raw(addr, username).await?;
        let status = response.status();
        if status != StatusCode::OK {
            bail!("login answered {status}");
        }
        Ok(response.json().await?)
    }

    /// `POST /api/login`, whatever the answer.
    pub(crate) async fn login_raw(
        &self,
        addr: SocketAddr,
        username: &str,
    ) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(format!("http://{addr}/api/login"))
            .json(&credentials(username))
            .send()
            .await
    }

    /// `POST /admin/clients` on a node's operators' listener: the new client's id and secret.
    pub(crate) async fn create_client(
        &self,
        admin: SocketAddr,
        key: &str,
    ) -> anyhow::Result<(String, String)> {
        let response = self
            .client
            .post(format!("http://{admin}/admin/clients"))
            .bearer_auth(key)
            .json(&serde_json::json!({ "name": "bench" }))
            .send()
            .await?;
        if response.status() != StatusCode::CREATED {
            bail!("creating a client answered {}", response.status());
        }
        let created: adieu_types::NewClientResponse = response.json().await?;
        Ok((created.client_id, created.client_secret.expose().to_owned()))
    }

    /// `POST /oauth2/introspect` with a client's Basic credentials, expecting 200.
    pub(crate) async fn introspect(
        &self,
        addr: SocketAddr,
        client_id: &str,
        secret: &str,
        token: &str,
    ) -> anyhow::Result<serde_json::Value> {
        let response = self
            .client
            .post(format!("http://{addr}/oauth2/introspect"))
            .basic_auth(client_id, Some(secret))
            .form(&[("token", token)])
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            bail!("introspection answered {}", response.status());
        }
        Ok(response.json().await?)
    }

    /// The cache state (`off`, `serving` or `resyncing`) from `GET /status` on a node's
    /// operators' listener, expecting 200 (503 while the node is not ready).
    pub(crate) async fn cache_state(&self, admin: SocketAddr) -> anyhow::Result<String> {
        let response = self
            .client
            .get(format!("http://{admin}/status"))
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        if status != StatusCode::OK {
            bail!("/status answered {status}: {body}");
        }
        cache_of(&body)
    }
}

fn cache_of(status_body: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = serde_json::from_str(status_body).context("reading /status")?;
    v["cache"]
        .as_str()
        .map(str::to_owned)
        .context("/status tells no cache state")
}

fn credentials(username: &str) -> Credentials {
    Credentials {
        username: username.to_owned(),
        password: Secret::new(PASSWORD),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_state_is_read_from_status() {
        let body = r#"{"status":"ok","backend":"postgres","cache":"serving","cache_hits":3}"#;
        assert_eq!(cache_of(body).unwrap(), "serving");
        assert!(cache_of(r#"{"status":"ok"}"#).is_err());
        assert!(cache_of("ok").is_err());
    }
}
