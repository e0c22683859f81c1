//! The few calls the benchmark makes outside its measured loops, and the login load, through
//! one pooled `reqwest::Client`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

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
            .pool_max_idle_per_host(1024);
        Ok(Self {
            client: client.build().context("building the HTTP client")?,
        })
    }

    /// Sends `request`, expecting `expected`; the answer's JSON (`null` if it has none).
    async fn call(
        request: RequestBuilder,
        expected: StatusCode,
        what: &str,
    ) -> anyhow::Result<Value> {
        let response = request
            .send()
            .await
            .with_context(|| format!("{what} failed"))?;
        let status = response.status();
        let body = response.text().await?;
        if status != expected {
            bail!("{what} answered {status}: {body}");
        }
        Ok(serde_json::from_str(&body).unwrap_or_default())
    }

    /// `POST /api/register`.
    pub(crate) async fn register(&self, addr: SocketAddr, username: &str) -> anyhow::Result<()> {
        let request = self.client.post(format!("http://{addr}/api/register"));
        Self::call(
            request.json(&credentials(username)),
            StatusCode::CREATED,
            "register",
        )
        .await?;
        Ok(())
    }

    /// `POST /api/login`, expecting success: the access token.
    pub(crate) async fn login(&self, addr: SocketAddr, username: &str) -> anyhow::Result<String> {
        let request = self.client.post(format!("http://{addr}/api/login"));
        let answer = Self::call(
            request.json(&credentials(username)),
            StatusCode::OK,
            "login",
        )
        .await?;
        text(&answer, "access_token")
    }

    /// `POST /api/login`, whatever the answer.
    pub(crate) async fn login_raw(
        &self,
        addr: SocketAddr,
        username: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let request = self.client.post(format!("http://{addr}/api/login"));
        request.json(&credentials(username)).send().await
    }

    /// `POST /admin/clients` on a node's operators' listener: the new client's id and secret.
    pub(crate) async fn create_client(
        &self,
        admin: SocketAddr,
        key: &str,
    ) -> anyhow::Result<(String, String)> {
        let request = self
            .client
            .post(format!("http://{admin}/admin/clients"))
            .bearer_auth(key);
        let answer = Self::call(
            request.json(&json!({ "name": "bench" })),
            StatusCode::CREATED,
            "creating a client",
        )
        .await?;
        Ok((text(&answer, "client_id")?, text(&answer, "client_secret")?))
    }

    /// `POST /oauth2/introspect` with a client's Basic credentials, expecting 200.
    pub(crate) async fn introspect(
        &self,
        addr: SocketAddr,
        client: &(String, String),
        token: &str,
    ) -> anyhow::Result<Value> {
        let request = self.client.post(format!("http://{addr}/oauth2/introspect"));
        let request = request
            .basic_auth(&client.0, Some(&client.1))
            .form(&[("token", token)]);
        Self::call(request, StatusCode::OK, "introspection").await
    }

    /// The cache state (`off`, `serving` or `resyncing`) from `GET /status` on a node's
    /// operators' listener, expecting 200 (503 while the node is not ready).
    pub(crate) async fn cache_state(&self, admin: SocketAddr) -> anyhow::Result<String> {
        let answer = Self::call(
            self.client.get(format!("http://{admin}/status")),
            StatusCode::OK,
            "/status",
        )
        .await?;
        text(&answer, "cache")
    }
}

/// A string field of an answer.
fn text(answer: &Value, field: &str) -> anyhow::Result<String> {
    answer[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the answer has no {field}: {answer}"))
}

fn credentials(username: &str) -> Value {
    json!({ "username": username, "password": PASSWORD })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_answers() {
        let status =
            json!({"status": "ok", "backend": "postgres", "cache": "serving", "cache_hits": 3});
        assert_eq!(text(&status, "cache").unwrap(), "serving");
        assert!(text(&json!({"status": "ok"}), "cache").is_err());
        assert!(text(&Value::Null, "cache").is_err());
    }
}
