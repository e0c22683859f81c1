//! The admin API on the operators' listener, as the `adieu admin` commands call it: one
//! `reqwest` client, the admin key on every request, the server's errors in words.

use std::path::PathBuf;
use std::time::Duration;

use adieu_types::{AdminUser, AdminUserDetail, AdminUsersResponse, ErrorBody, ErrorCode, Secret};
use anyhow::{Context, anyhow, bail};
use clap::Args;
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::Usage;

/// The most users one call returns (the server's `MAX_PAGE`).
pub(crate) const MAX_PAGE: u32 = 500;

/// Where the admin API is, and the key to call it with. The key never comes from a flag's
/// value, which other users of the machine could read in the process list.
#[derive(Debug, Args)]
pub(crate) struct AdminApiArgs {
    /// The operators' listener, as given to `adieu serve --admin-listen`, e.g.
    /// http://127.0.0.1:9090
    #[arg(long, env = "ADIEU_ADMIN_URL", global = true, value_name = "URL")]
    admin_url: Option<String>,
    /// A file whose first line is the admin key [default: the key in ADIEU_ADMIN_KEY]
    #[arg(long, global = true, value_name = "PATH")]
    admin_key_file: Option<PathBuf>,
}

/// A client of the admin API.
pub(crate) struct AdminApi {
    http: reqwest::Client,
    base: Url,
    key: Secret,
}

impl AdminApi {
    /// The client that `args` describe, or a usage error saying what is missing.
    pub(crate) fn new(args: &AdminApiArgs) -> anyhow::Result<Self> {
        let Some(url) = &args.admin_url else {
            return Err(Usage::error(
                "no admin API: pass --admin-url URL or set ADIEU_ADMIN_URL (the address of \
                 `adieu serve --admin-listen`)",
            ));
        };
        let with_scheme = if url.contains("://") {
            url.clone()
        } else {
            format!("http://{url}")
        };
        let mut base = Url::parse(&with_scheme)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| Usage::error(format!("--admin-url {url:?} is not an http(s) URL")))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let key = read_key(args)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("adieu/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("setting up the HTTP client")?;
        Ok(Self { http, base, key })
    }

    /// A request to `segments` under `/admin/`, each segment percent-encoded.
    pub(crate) fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("admin").extend(segments);
        }
        self.http
            .request(method, url)
            .bearer_auth(self.key.expose())
    }

    /// Sends `request` and returns the answer if it is a success, else the server's error.
    pub(crate) async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = self.answer(request).await?;
        self.success(response).await
    }

    /// Sends `request` and returns whatever the server answered.
    pub(crate) async fn answer(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        request.send().await.map_err(|e| {
            let e = e.without_url();
            if e.is_timeout() {
                anyhow!("the admin API at {} did not answer in time", self.base)
            } else {
                anyhow::Error::new(e)
                    .context(format!("could not reach the admin API at {}", self.base))
            }
        })
    }

    /// The answer if it is a success, else the server's error.
    pub(crate) async fn success(&self, response: Response) -> anyhow::Result<Response> {
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error(response).await)
    }

    /// Sends `request` and reads the JSON of its answer.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> anyhow::Result<T> {
        self.send(request)
            .await?
            .json()
            .await
            .with_context(|| format!("reading the answer of the admin API at {}", self.base))
    }

    async fn error(&self, response: Response) -> anyhow::Error {
        let status = response.status();
        let body = response.json::<ErrorBody>().await.ok();
        match (status, body) {
            (StatusCode::UNAUTHORIZED, Some(b)) if b.error == ErrorCode::InvalidToken => anyhow!(
                "the admin API refused the admin key (unknown or revoked; see `adieu admin keys \
                 list`)"
            ),
            (_, Some(b)) => anyhow!("{} (HTTP {})", b.message, status.as_u16()),
            (_, None) => anyhow!(
                "unexpected answer from {} (HTTP {}): is it the operators' listener of adieu \
                 serve --admin-listen?",
                self.base,
                status.as_u16()
            ),
        }
    }

    /// One page of users whose names contain `query`.
    pub(crate) async fn users_page(
        &self,
        query: &str,
        limit: u32,
        after: Option<&str>,
    ) -> anyhow::Result<AdminUsersResponse> {
        let mut params = vec![("query", query.to_owned()), ("limit", limit.to_string())];
        if let Some(after) = after {
            params.push(("after", after.to_owned()));
        }
        self.json(self.request(Method::GET, &["users"]).query(&params))
            .await
            .context("listing users")
    }

    /// The user named `name`, case-insensitively, if there is one.
    pub(crate) async fn user_named(&self, name: &str) -> anyhow::Result<Option<AdminUser>> {
        let mut after: Option<String> = None;
        loop {
            let page = self.users_page(name, MAX_PAGE, after.as_deref()).await?;
            let wanted = name.to_lowercase();
            if let Some(user) = page
                .users
                .into_iter()
                .find(|u| u.username.to_lowercase() == wanted)
            {
                return Ok(Some(user));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(None),
            }
        }
    }

    /// The user `id_or_name` names: a user id, else a name (case-insensitive).
    pub(crate) async fn user(&self, id_or_name: &str) -> anyhow::Result<AdminUserDetail> {
        let response = self
            .answer(self.request(Method::GET, &["users", id_or_name]))
            .await?;
        if response.status() != StatusCode::NOT_FOUND {
            return self
                .success(response)
                .await?
                .json()
                .await
                .context("reading the admin API's answer");
        }
        let Some(user) = self.user_named(id_or_name).await? else {
            bail!("no user with the id or name {id_or_name:?}");
        };
        self.json(self.request(Method::GET, &["users", &user.id]))
            .await
            .with_context(|| format!("reading the user {:?}", user.username))
    }
}

/// The admin key: the first line of `--admin-key-file`, else `ADIEU_ADMIN_KEY`.
fn read_key(args: &AdminApiArgs) -> anyhow::Result<Secret> {
    let key = match &args.admin_key_file {
        Some(path) => {
            let text = Secret::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading the admin key from {}", path.display()))?,
            );
            let line = text.expose().lines().next().unwrap_or("").trim();
            if line.is_empty() {
                bail!("{} holds no admin key", path.display());
            }
            Secret::new(line)
        }
        None => match std::env::var("ADIEU_ADMIN_KEY") {
            Ok(key) if !key.trim().is_empty() => Secret::new(key.trim()),
            _ => {
                return Err(Usage::error(
                    "no admin key: set ADIEU_ADMIN_KEY or pass --admin-key-file PATH (make one \
                     with `adieu admin keys create`)",
                ));
            }
        },
    };
    if !key.expose().starts_with(adieu_types::ADMIN_KEY_PREFIX) {
        bail!(
            "that is not an admin key: admin keys start with {}",
            adieu_types::ADMIN_KEY_PREFIX
        );
    }
    Ok(key)
}
