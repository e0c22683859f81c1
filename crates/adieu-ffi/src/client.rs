//! [`AdieuClient`]: the SDK's client, with every call run on the SDK's own runtime.

use std::future::Future;
use std::sync::Arc;

use adieu_client::{Client, Secret};

use crate::observer::Notifier;
use crate::runtime::{block_on, run};
use crate::store::HostStore;
use crate::{
    AdieuConfig, AdieuError, LogoutAllOutcome, LogoutOutcome, Me, Registered, SecureStore,
    SessionInfo, SessionObserver, SessionSummary,
};

/// The Adieu client: log in, make calls, log out so that the device is always left clean.
///
/// Make one per server when the app starts, and call `retry_pending()` then (and when
/// connectivity returns, and from the background scheduler) to finish the revocations that
/// earlier logouts could not make. Every call may be made from any thread; the async ones run
/// to their end even if the caller cancels.
#[derive(uniffi::Object)]
pub struct AdieuClient {
    client: Client,
    notifier: Arc<Notifier>,
}

impl std::fmt::Debug for AdieuClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdieuClient")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl AdieuClient {
    /// A client of `config.server_url` keeping its credentials in `store`, telling `observer`
    /// (if any) when the session changes. Reads the store once (on the calling thread's behalf,
    /// so quickly), makes no network call, and does not retry pending revocations: call
    /// `retry_pending()` for that.
    #[uniffi::constructor(default(observer = None))]
    pub fn new(
        config: AdieuConfig,
        store: Arc<dyn SecureStore>,
        observer: Option<Arc<dyn SessionObserver>>,
    ) -> Result<Arc<Self>, AdieuError> {
        let mut builder = Client::builder(config.server_url.clone())
            .store(HostStore::new(store, config.store_key.clone()))
            .timeout(config.request_timeout())
            .connect_timeout(config.connect_timeout())
            .allow_plain_http(config.allow_plain_http)
            // A retry here would hold the caller's thread for as long as the network takes.
            .retry_pending_on_start(false);
        if let Some(user_agent) = config.user_agent {
            builder = builder.user_agent(user_agent);
        }
        let client = block_on(builder.build())?;
        let notifier = Notifier::new(observer, client.session().map(Into::into));
        Ok(Arc::new(Self {
            client,
            notifier: Arc::new(notifier),
        }))
    }

    /// The server's base URL.
    pub fn server_url(&self) -> String {
        self.client.server().to_string()
    }

    /// Who this device is logged in as, from the store (no network call).
    pub fn current_session(&self) -> Option<SessionSummary> {
        self.client.session().map(Into::into)
    }

    /// How many revocations earlier logouts left queued (no network call).
    pub fn pending_revocations(&self) -> u32 {
        count(self.client.pending_revocations().len())
    }

    /// Creates an account. It does not log in.
    pub async fn register(
        &self,
        username: String,
        password: String,
    ) -> Result<Registered, AdieuError> {
        let password = Secret::new(password);
        self.call(|c| async move { c.register(&username, &password).await })
            .await
            .map(|r| Registered {
                user_id: r.user_id,
                username: r.username,
            })
    }

    /// Logs in and stores the session. A session this device held before is logged out first
    /// (revoked, or queued if the server cannot be told).
    pub async fn login(
        &self,
        username: String,
        password: String,
    ) -> Result<SessionSummary, AdieuError> {
        let password = Secret::new(password);
        self.call(|c| async move { c.login(&username, &password).await })
            .await
            .map(Into::into)
    }

    /// Who the server says this device is.
    pub async fn me(&self) -> Result<Me, AdieuError> {
        self.call(|c| async move { c.me().await })
            .await
            .map(|me| Me {
                user_id: me.user_id,
                username: me.username,
                session_id: me.session_id,
            })
    }

    /// The user's active sessions, newest first, this one marked `current`.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, AdieuError> {
        self.call(|c| async move { c.sessions().await })
            .await
            .map(|list| list.into_iter().map(Into::into).collect())
    }

    /// Ends one of the user's sessions, on any device. If it is this device's, the device is
    /// logged out once the server has confirmed.
    pub async fn revoke_session(&self, session_id: String) -> Result<(), AdieuError> {
        self.call(|c| async move { c.revoke_session(&session_id).await })
            .await
    }

    /// Changes the password; the server ends every other session of the user. Answers how many
    /// it ended.
    pub async fn change_password(
        &self,
        current_password: String,
        new_password: String,
    ) -> Result<u64, AdieuError> {
        let (current, new) = (Secret::new(current_password), Secret::new(new_password));
        self.call(|c| async move { c.change_password(&current, &new).await })
            .await
            .map(|r| r.revoked_sessions)
    }

    /// Logs this device out: the device is wiped first (and a refresh in flight can no longer
    /// store anything), then the server is asked to end the session. A network failure is not
    /// an error but `LogoutOutcome.LocalOnly`, with the revocation queued; only the store's
    /// failure throws (the server was still asked).
    pub async fn logout(&self) -> Result<LogoutOutcome, AdieuError> {
        self.call(|c| async move { c.logout().await })
            .await
            .map(Into::into)
    }

    /// Ends every session of the user, this one included, and logs this device out as
    /// `logout()` does.
    pub async fn logout_all(&self) -> Result<LogoutAllOutcome, AdieuError> {
        self.call(|c| async move { c.logout_all().await })
            .await
            .map(Into::into)
    }

    /// Retries every queued revocation, each at the server that issued its token, and answers
    /// how many are still queued (0: all done). Call it at launch, when connectivity returns
    /// and from the background scheduler (WorkManager, BGTaskScheduler).
    pub async fn retry_pending(&self) -> Result<u32, AdieuError> {
        self.call(|c| async move {
            c.retry_pending_revocations().await?;
            Ok(count(c.pending_revocations().len()))
        })
        .await
    }
}

impl AdieuClient {
    /// Runs `op` on the SDK's runtime, then tells the observer if the session changed.
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, AdieuError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = adieu_client::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let client = self.client.clone();
        let notifier = self.notifier.clone();
        let task = op(client.clone());
        run(async move {
            let result = task.await;
            notifier.update(client.session().map(Into::into));
            result.map_err(AdieuError::from)
        })
        .await
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
