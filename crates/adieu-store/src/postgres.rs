//! PostgreSQL backend: several nodes sharing one database.
//!
//! Storage itself is the shared SQL; what PostgreSQL adds is the cluster: every revoking
//! transaction publishes the ended sessions, and the revoking request waits for the other
//! nodes (see `cluster`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use adieu_core::{Clock, SystemClock};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};
use sqlx::{PgPool, Postgres, Transaction};

use crate::backend::Backend;
use crate::cache::TokenCache;
use crate::cluster::{Cluster, Pending};
use crate::migrate::{self, POSTGRES};
use crate::{Result, StoreObserver};

/// Arbitrary key of the advisory lock that serialises migrations of starting nodes.
const MIGRATION_LOCK: i64 = 0x000a_d1e0_5e55;

/// Store on a PostgreSQL database shared by several nodes.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    cluster: Arc<Cluster>,
    observer: Option<Arc<dyn StoreObserver>>,
}

impl PostgresStore {
    /// Connects, migrates and joins the cluster. With a cache, the node holds a lease of
    /// `lease` and serves from the cache only while it is valid.
    pub async fn connect(
        url: &str,
        lease: Duration,
        cache: Option<Arc<TokenCache>>,
    ) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("adieu");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await?;
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        migrate::run(&mut tx, POSTGRES, SystemClock.now()).await?;
        tx.commit().await?;
        let cluster = Cluster::start(pool.clone(), options, lease, cache).await?;
        Ok(Self {
            pool,
            cluster,
            observer: None,
        })
    }

    /// The same store, telling `observer` how long its revocations waited for the other
    /// nodes.
    pub fn observed_by(mut self, observer: Option<Arc<dyn StoreObserver>>) -> Self {
        self.observer = observer;
        self
    }

    /// This node's id in the cluster.
    pub fn node_id(&self) -> &str {
        self.cluster.node_id()
    }

    /// `application_name` of this node's notification connection.
    pub fn listener_name(&self) -> String {
        self.cluster.listener_name()
    }
}

impl Backend for PostgresStore {
    type Db = Postgres;

    /// The other nodes' acknowledgements to wait for.
    type Pending = Pending;

    /// A shared lock on the user's row, which a password change's update waits for.
    const LOCK_USER: &'static str = " FOR SHARE";

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn health_of(&self) -> crate::Health {
        crate::Health {
            backend: "postgres",
            notifications_up: self.cluster.listener_up(),
            node_id: Some(self.cluster.node_id().to_owned()),
            cache: None,
        }
    }

    async fn publish_revoked(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        ids: &[String],
    ) -> Result<Pending> {
        self.cluster.publish(tx, ids).await
    }

    async fn confirm_revoked(&self, pending: Pending) -> Result<()> {
        self.cluster.confirm(pending).await
    }

    /// Gives up the lease, so that no logout waits for a node that has shut down.
    fn observer(&self) -> Option<&dyn StoreObserver> {
        self.observer.as_deref()
    }

    async fn release_lease(&self) {
        self.cluster.leave().await;
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.cluster.stop();
    }
}
