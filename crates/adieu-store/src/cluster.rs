//! Revocations that reach every PostgreSQL node before the revoking request answers.
//!
//! Every node listens on one notification channel. A revoking transaction publishes the
//! ended session ids with `pg_notify` *inside* the transaction, so the message goes out
//! exactly when the revocation commits. After the commit the revoking node waits until every
//! other node that holds a live **lease** has acknowledged the message, or until that node's
//! lease has run out.
//!
//! A node holds a lease only while it caches. It renews the lease every quarter-lease with
//! a transaction that extends its row in `adieu_nodes` and notifies a heartbeat on the same
//! channel. PostgreSQL delivers notifications in commit order, so when the node hears its
//! own heartbeat it has heard every revocation committed before it; only then does it extend
//! its local serving window, to `time the heartbeat was sent + lease`, which ends no later
//! than the lease other nodes see in the table. If the listener connection drops, the cache
//! is dropped at once and the node reads the database until a heartbeat comes back through
//! the new connection. A node that is stopped or cut off simply stops renewing: revoking
//! nodes wait for it at most until its lease expires, and it no longer serves from memory.
//!
//! The messages (revocations, acknowledgements, heartbeats) and their wire format are in
//! `message`.

pub(crate) mod message;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgNotification, PgPoolOptions};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Result;
use crate::cache::TokenCache;
use message::Message;

/// The one channel every node listens on.
const CHANNEL: &str = "adieu_events";
/// Taken off the serving window for clock-rate differences between nodes.
const SAFETY_MARGIN: Duration = Duration::from_millis(50);

/// Shared state of one node's membership in the cluster.
pub(crate) struct Cluster {
    node_id: String,
    /// The request pool, for the revoking request's own query.
    pool: PgPool,
    /// Connections for heartbeats and acknowledgements, so that a saturated request pool
    /// cannot starve the lease or hold up other nodes' revocations.
    control: PgPool,
    lease: Duration,
    cache: Option<Arc<TokenCache>>,
    /// Revocations of ours waiting for acknowledgements, by revocation id.
    waiters: Mutex<HashMap<String, mpsc::UnboundedSender<String>>>,
    /// Heartbeats sent and not yet heard back, by sequence number.
    heartbeats: Mutex<HashMap<u64, Instant>>,
    next_heartbeat: AtomicU64,
    listener_up: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node_id", &self.node_id)
            .field("lease", &self.lease)
            .field("listener_up", &self.listener_up.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A published revocation whose acknowledgements are still to be awaited.
pub(crate) struct Pending {
    rev_id: String,
    acks: mpsc::UnboundedReceiver<String>,
    cluster: Arc<Cluster>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.cluster.lock_waiters().remove(&self.rev_id);
    }
}

impl Cluster {
    /// Joins the cluster: starts the listener and, when caching, the lease.
    pub(crate) async fn start(
        pool: PgPool,
        options: PgConnectOptions,
        lease: Duration,
        cache: Option<Arc<TokenCache>>,
    ) -> Result<Arc<Self>> {
        let node_id = adieu_core::new_id();
        let control = PgPoolOptions::new()
            .max_connections(2)
            .connect_lazy_with(options.clone());
        let cluster = Arc::new(Self {
            node_id,
            pool,
            control,
            lease,
            cache,
            waiters: Mutex::new(HashMap::new()),
            heartbeats: Mutex::new(HashMap::new()),
            next_heartbeat: AtomicU64::new(0),
            listener_up: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
        });
        // The listener gets its own connection, named so operators (and tests) can find it.
        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options.application_name(&cluster.listener_name()));
        let mut tasks = vec![tokio::spawn(listen(cluster.clone(), listener_pool))];
        if cluster.cache.is_some() {
            sqlx::query(
                "INSERT INTO adieu_nodes (id, lease_until, started_at) VALUES ($1, now(), now())",
            )
            .bind(&cluster.node_id)
            .execute(&cluster.control)
            .await?;
            tasks.push(tokio::spawn(renew(cluster.clone())));
        }
        *cluster.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        Ok(cluster)
    }

    /// This node's id.
    pub(crate) fn node_id(&self) -> &str {
        &self.node_id
    }

    /// `application_name` of this node's listener connection.
    pub(crate) fn listener_name(&self) -> String {
        format!("adieu-listener-{}", self.node_id)
    }

    /// Whether the notification listener is connected.
    pub(crate) fn listener_up(&self) -> bool {
        self.listener_up.load(Ordering::SeqCst)
    }

    fn lock_waiters(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<String>>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inside the revoking transaction: announces the ended sessions. The returned handle
    /// must be passed to [`confirm`](Self::confirm) after the commit.
    pub(crate) async fn publish(
        self: &Arc<Self>,
        tx: &mut Transaction<'_, Postgres>,
        session_ids: &[String],
    ) -> Result<Pending> {
        let rev_id = adieu_core::new_id();
        let (sender, acks) = mpsc::unbounded_channel();
        self.lock_waiters().insert(rev_id.clone(), sender);
        let pending = Pending {
            rev_id: rev_id.clone(),
            acks,
            cluster: self.clone(),
        };
        for chunk in Message::revocation(&self.node_id, &rev_id, session_ids) {
            notify(&mut **tx, &chunk).await?;
        }
        Ok(pending)
    }

    /// After the commit: waits until every other node with a live lease has acknowledged,
    /// or its lease has expired. Bounded by the lease.
    pub(crate) async fn confirm(&self, mut pending: Pending) -> Result<()> {
        let live: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, CAST(CEIL(EXTRACT(EPOCH FROM (lease_until - now())) * 1000) AS BIGINT) \
             FROM adieu_nodes WHERE lease_until > now() AND id <> $1",
        )
        .bind(&self.node_id)
        .fetch_all(&self.pool)
        .await?;
        // Deadlines count from *after* the answer, so they end no earlier than the leases.
        let started = Instant::now();
        let mut outstanding: HashMap<String, Instant> = live
            .into_iter()
            .map(|(id, ms)| {
                let ms = u64::try_from(ms).unwrap_or(0);
                (id, started + Duration::from_millis(ms))
            })
            .collect();
        let mut acked = HashSet::new();
        loop {
            let now = Instant::now();
            outstanding.retain(|id, deadline| !acked.contains(id) && *deadline > now);
            let Some(next_deadline) = outstanding.values().min().copied() else {
                return Ok(());
            };
            tokio::select! {
                ack = pending.acks.recv() => match ack {
                    Some(node) => { acked.insert(node); }
                    None => tokio::time::sleep_until(next_deadline.into()).await,
                },
                () = tokio::time::sleep_until(next_deadline.into()) => {
                    tracing::warn!(lease_ms = self.lease.as_millis() as u64, "a node did not acknowledge a revocation before its lease ran out");
                }
            }
        }
    }

    fn handle(self: &Arc<Self>, notification: &PgNotification) {
        let message = match Message::parse(notification.payload()) {
            Ok(message) => message,
            Err(e) => {
                // The error names the fault; the payload itself stays out of the log.
                tracing::warn!(
                    error = %e,
                    bytes = notification.payload().len(),
                    "ignored a notification that is not a cluster message"
                );
                return;
            }
        };
        match message {
            Message::Heartbeat { node, seq } if node == self.node_id => {
                let sent = self
                    .heartbeats
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&seq);
                if let (Some(sent), Some(cache)) = (sent, &self.cache) {
                    cache.extend(sent + self.lease.saturating_sub(SAFETY_MARGIN));
                }
            }
            Message::Revoke {
                origin,
                rev_id,
                last,
                session_ids,
            } => {
                if let Some(cache) = &self.cache {
                    cache.evict_sessions(&session_ids);
                }
                if last && origin != self.node_id && self.cache.is_some() {
                    let cluster = self.clone();
                    tokio::spawn(async move { cluster.acknowledge(origin, rev_id).await });
                }
            }
            Message::Ack {
                origin,
                rev_id,
                node,
            } if origin == self.node_id => {
                if let Some(waiter) = self.lock_waiters().get(&rev_id) {
                    let _ = waiter.send(node);
                }
            }
            // Other nodes' heartbeats and acknowledgements.
            Message::Heartbeat { .. } | Message::Ack { .. } => {}
        }
    }

    async fn acknowledge(&self, origin: String, rev_id: String) {
        let ack = Message::Ack {
            origin,
            rev_id,
            node: self.node_id.clone(),
        };
        if let Err(e) = notify(&self.control, &ack).await {
            tracing::warn!(error = %e, "could not acknowledge a revocation");
        }
    }

    fn lost_listener(&self) {
        if self.listener_up.swap(false, Ordering::SeqCst) {
            tracing::warn!("lost the revocation listener; reading the database until it is back");
        }
        if let Some(cache) = &self.cache {
            cache.lapse();
        }
    }

    /// Gives up the lease at shutdown: stops serving from memory first, then tells the
    /// others not to wait for this node.
    pub(crate) async fn leave(&self) {
        self.stop();
        if let Some(cache) = &self.cache {
            cache.lapse();
            let released = sqlx::query("UPDATE adieu_nodes SET lease_until = now() WHERE id = $1")
                .bind(&self.node_id)
                .execute(&self.control)
                .await;
            if let Err(e) = released {
                tracing::warn!(error = %e, "could not release the cache lease");
            }
        }
    }

    /// Stops the background tasks.
    pub(crate) fn stop(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}

/// Receives notifications for as long as the node lives, reconnecting when needed.
async fn listen(cluster: Arc<Cluster>, listener_pool: PgPool) {
    loop {
        let mut listener = match PgListener::connect_with(&listener_pool).await {
            Ok(l) => l,
            Err(e) => {
                cluster.lost_listener();
                tracing::warn!(error = %e, "could not connect the revocation listener");
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            cluster.lost_listener();
            tracing::warn!(error = %e, "could not listen for revocations");
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        cluster.listener_up.store(true, Ordering::SeqCst);
        tracing::info!(node = %cluster.node_id, "listening for revocations");
        loop {
            // `try_recv` reports a lost connection as `Ok(None)` (or an error): the moment to
            // drop the cache, since notifications sent meanwhile are gone. A fresh listener
            // is then set up from scratch.
            match listener.try_recv().await {
                Ok(Some(notification)) => cluster.handle(&notification),
                Ok(None) => {
                    cluster.lost_listener();
                    break;
                }
                Err(e) => {
                    cluster.lost_listener();
                    tracing::warn!(error = %e, "revocation listener failed; reconnecting");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    break;
                }
            }
        }
    }
}

/// Renews the lease every quarter-lease while the listener is up.
async fn renew(cluster: Arc<Cluster>) {
    let mut every = tokio::time::interval(cluster.lease / 4);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        every.tick().await;
        ticks += 1;
        if !cluster.listener_up() {
            continue;
        }
        let seq = cluster.next_heartbeat.fetch_add(1, Ordering::Relaxed);
        {
            let mut heartbeats = cluster.heartbeats.lock().unwrap_or_else(|e| e.into_inner());
            // Heartbeats lost with a dropped connection never come back: forget old ones.
            heartbeats.retain(|&s, _| s + 64 > seq);
            heartbeats.insert(seq, Instant::now());
        }
        if let Err(e) = heartbeat(&cluster, seq).await {
            tracing::warn!(error = %e, "could not renew the cache lease");
        }
        if ticks % 1_000 == 0 {
            let _ = sqlx::query(
                "DELETE FROM adieu_nodes WHERE lease_until < now() - interval '1 hour'",
            )
            .execute(&cluster.pool)
            .await;
        }
    }
}

async fn heartbeat(cluster: &Cluster, seq: u64) -> Result<()> {
    let mut tx = cluster.control.begin().await?;
    sqlx::query(
        "UPDATE adieu_nodes SET lease_until = now() + make_interval(secs => $2) WHERE id = $1",
    )
    .bind(&cluster.node_id)
    .bind(cluster.lease.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    let renewal = Message::Heartbeat {
        node: cluster.node_id.clone(),
        seq,
    };
    notify(&mut *tx, &renewal).await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a message on the channel. Inside a transaction it goes out when that commits.
async fn notify<'e>(executor: impl PgExecutor<'e>, message: &Message) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(message.encode())
        .execute(executor)
        .await?;
    Ok(())
}
