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

/// What `/healthz` says about the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Health {
    /// `sqlite` or `postgres`, when the node says.
    pub(crate) backend: Option<String>,
    /// `off`, `serving` or `resyncing`, when the node says.
    pub(crate) cache: Option<String>,
    /// True for the JSON answer kept by a background task; false for the older answer that
    /// queries the database on every request.
    pub(crate) cheap: bool,
}

impl Health {
    fn parse(body: &str) -> Self {
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(v) if v.is_object() => Self {
                backend: v["backend"].as_str().map(str::to_owned),
                cache: v["cache"].as_str().map(str::to_owned),
                cheap: true,
            },
            _ => Self {
                backend: None,
                cache: None,
                cheap: false,
            },
        }
    }
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

    /// `GET /healthz`, expecting 200.
    pub(crate) async fn health(&self, addr: SocketAddr) -> anyhow::Result<Health> {
        let response = self
            .client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        if status != StatusCode::OK {
            bail!("/healthz answered {status}: {body}");
        }
        Ok(Health::parse(&body))
    }
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
    fn health_tells_the_cheap_json_answer_from_the_old_text_one() {
        let new = Health::parse(r#"{"status":"ok","backend":"postgres","cache":"serving"}"#);
        assert_eq!(new.backend.as_deref(), Some("postgres"));
        assert_eq!(new.cache.as_deref(), Some("serving"));
        assert!(new.cheap);
        assert!(!Health::parse("ok").cheap);
    }
}
