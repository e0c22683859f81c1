//! [`ClientBuilder`]: how a [`Client`] is configured, and what it does as it starts.

use std::sync::Arc;
use std::time::Duration;

use crate::store::{CredentialStore, MemoryStore};
use crate::url_policy::parse_server;
use crate::{Client, Error, Result};

/// What the client calls itself unless told otherwise.
const DEFAULT_USER_AGENT: &str = concat!("adieu-client/", env!("CARGO_PKG_VERSION"));

/// Configures and builds a [`Client`].
#[must_use]
pub struct ClientBuilder {
    server: String,
    store: Arc<dyn CredentialStore>,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    allow_plain_http: bool,
    retry_pending_on_start: bool,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("timeout", &self.timeout)
            .field("allow_plain_http", &self.allow_plain_http)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The defaults, for the server at `server` (see [`Client::builder`]).
    pub(crate) fn new(server: String) -> Self {
        Self {
            server,
            store: Arc::new(MemoryStore::new()),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            allow_plain_http: false,
            retry_pending_on_start: true,
        }
    }

    /// Where the credentials are kept (default: a [`MemoryStore`]).
    pub fn store(mut self, store: impl CredentialStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// The longest a whole request may take (default 30 s). A logout that times out is
    /// [`LogoutOutcome::LocalOnly`](crate::LogoutOutcome::LocalOnly).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.connect_timeout = self.connect_timeout.min(timeout);
        self
    }

    /// The longest the connection to the server may take to open (default 10 s, and never more
    /// than [`ClientBuilder::timeout`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` of every request (default `adieu-client/VERSION`); the server shows it
    /// in the session list, so an app can name itself there.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Allows `http://` to hosts other than the loopback (default: only `https://` there, since
    /// plain HTTP would show every token to the network).
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Whether [`ClientBuilder::build`] retries pending revocations (default: yes).
    pub fn retry_pending_on_start(mut self, retry: bool) -> Self {
        self.retry_pending_on_start = retry;
        self
    }

    /// Loads the store and, unless told otherwise, retries the revocations still pending from
    /// earlier logouts (failures leave them pending; see
    /// [`Client::revocations_retried_at_start`]). Only loading the store can fail: if the store
    /// cannot record the result of a retry, the entries stay pending for the next one.
    pub async fn build(self) -> Result<Client> {
        let base = parse_server(&self.server, self.allow_plain_http)?;
        // reqwest would report a bad header value as a failure to connect.
        if reqwest::header::HeaderValue::from_str(&self.user_agent).is_err() {
            return Err(Error::InvalidArgument(
                "the user agent must be visible ASCII".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout.min(self.timeout))
            // A redirect would carry the request, and its credential, somewhere we did not
            // choose.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(self.user_agent)
            .build()
            .map_err(Error::transport)?;
        let contents = self.store.load()?;
        let client = Client::new(http, base, self.store, contents);
        if self.retry_pending_on_start {
            client.retry_pending_at_start().await;
        }
        Ok(client)
    }
}
