//! Measurement 5: clients that hang up in the middle of a password hash.
//!
//! A registration costs one argon2id hash and its working memory (19 MiB at the default
//! parameters). If a client's hang-up freed its place in the hasher before argon2 had
//! finished, a flood of such clients would run more hashes at once than the bound, and the
//! node's memory and threads would grow with the flood instead of staying within
//! `hash concurrency × 19 MiB` of idle.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use adieu_core::Argon2Params;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{Ctx, ServerKind, stop_all};
use crate::api;
use crate::node::Node;
use crate::report::{Section, mib, ms, table, thousands, verdict};

/// Clients flooding at once.
const CLIENTS: usize = 16;
/// How long they flood.
const FLOOD: Duration = Duration::from_secs(10);
/// How long a client waits after sending before it hangs up: long enough for the request to
/// reach a hash, far shorter than the hash.
const HANG_UP_AFTER: Duration = Duration::from_millis(3);
/// How long the node is watched after the flood.
const AFTER: Duration = Duration::from_secs(5);
/// How often memory and threads are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// One node under a flood of registrations whose clients hang up mid-hash.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub(crate) label: String,
    /// The node's `--hash-concurrency` (its default: one per core).
    pub(crate) hash_concurrency: usize,
    /// Working memory of that many hashes at once, the bound above idle.
    pub(crate) bound_kib: u64,
    /// Registrations sent, each hung up on.
    pub(crate) sent: u64,
    /// Connections that could not be opened or written to.
    pub(crate) connection_errors: u64,
    pub(crate) idle_rss_kib: Option<u64>,
    pub(crate) idle_threads: Option<u64>,
    /// Highest reading during the flood and the pause after it.
    pub(crate) peak_rss_kib: Option<u64>,
    pub(crate) peak_threads: Option<u64>,
    /// At the end of the pause after the flood.
    pub(crate) after_rss_kib: Option<u64>,
    /// One login of a registered user before the flood, and after the pause (`None` when
    /// it failed; a note says why).
    pub(crate) login_before: Option<Duration>,
    pub(crate) login_after: Option<Duration>,
}

/// On one SQLite node with the server's defaults.
pub(crate) async fn run(ctx: &mut Ctx) -> anyhow::Result<Section> {
    let kind = ServerKind::SQLITE;
    let db = ctx.fresh_database(kind.backend, "hangup").await?;
    let nodes = ctx.start_nodes(&db, kind, "hangup", 1).await?;
    let result = on(ctx, kind, &nodes[0]).await;
    stop_all(nodes).await;
    Ok(render(Some(&result?)))
}

async fn on(ctx: &mut Ctx, kind: ServerKind, node: &Node) -> anyhow::Result<Row> {
    let user = "bench-hangup-login";
    ctx.api.register(node.addr, user).await?;
    let t = Instant::now();
    ctx.api.login(node.addr, user).await?;
    let login_before = t.elapsed();
    // Idle after two hashes, as in measurement 4: the allocator keeps their memory.
    let mut row = Row {
        label: kind.label(),
        // The server's default, computed the same way.
        hash_concurrency: ctx.cores,
        bound_kib: ctx.cores as u64 * u64::from(Argon2Params::default().memory_kib),
        idle_rss_kib: node.process.rss_kib(),
        idle_threads: node.process.threads(),
        login_before: Some(login_before),
        ..Row::default()
    };
    row.peak_rss_kib = row.idle_rss_kib;
    row.peak_threads = row.idle_threads;

    let started = Instant::now();
    let flood_end = started + FLOOD;
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        clients.spawn(flood(node.addr, client, flood_end));
    }
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    while started.elapsed() < FLOOD + AFTER {
        tick.tick().await;
        row.peak_rss_kib = row.peak_rss_kib.max(node.process.rss_kib());
        row.peak_threads = row.peak_threads.max(node.process.threads());
    }
    row.after_rss_kib = node.process.rss_kib();
    while let Some(joined) = clients.join_next().await {
        let (sent, errors) = joined?;
        row.sent += sent;
        row.connection_errors += errors;
    }

    let t = Instant::now();
    match ctx.api.login(node.addr, user).await {
        Ok(_) => row.login_after = Some(t.elapsed()),
        Err(e) => ctx
            .notes
            .push(format!("The login after the hang-up flood failed: {e:#}.")),
    }
    eprintln!(
        "  {}: {} registrations sent and hung up on, RSS idle {} KiB, peak {} KiB, after {} KiB, \
         threads peak {}",
        kind.label(),
        row.sent,
        row.idle_rss_kib.unwrap_or(0),
        row.peak_rss_kib.unwrap_or(0),
        row.after_rss_kib.unwrap_or(0),
        row.peak_threads.unwrap_or(0),
    );
    Ok(row)
}

/// One client until `deadline`: connect, send a registration of a fresh name, hang up soon
/// after. Returns the requests sent and the connections that failed.
async fn flood(addr: SocketAddr, client: usize, deadline: Instant) -> (u64, u64) {
    let (mut sent, mut errors, mut n) = (0, 0, 0);
    while Instant::now() < deadline {
        n += 1;
        let body = serde_json::json!({
            "username": format!("bench-hangup-{client}-{n}"),
            "password": api::PASSWORD,
        })
        .to_string();
        let request = format!(
            "POST /api/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            errors += 1;
            // Bounded by the deadline; the pause keeps a refusing node from a busy loop.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if stream.write_all(request.as_bytes()).await.is_ok() {
            sent += 1;
            tokio::time::sleep(HANG_UP_AFTER).await;
        } else {
            errors += 1;
        }
        // Dropping the stream closes the socket: the hang-up.
    }
    (sent, errors)
}

pub(crate) fn render(row: Option<&Row>) -> Section {
    let opt = |n: Option<u64>| n.map_or("–".to_owned(), |n| n.to_string());
    let body = table(
        &format!(
            "server | hash concurrency | registrations sent (connection errors) | RSS idle MiB | RSS peak MiB | peak above idle MiB | bound above idle MiB | RSS {} s after MiB | threads idle / peak | one login before / after ms | within the bound",
            AFTER.as_secs()
        ),
        row.map(|h| {
            let above = h
                .peak_rss_kib
                .zip(h.idle_rss_kib)
                .map(|(p, i)| p.saturating_sub(i));
            vec![
                h.label.clone(),
                h.hash_concurrency.to_string(),
                format!("{} ({})", thousands(h.sent), h.connection_errors),
                mib(h.idle_rss_kib),
                mib(h.peak_rss_kib),
                mib(above),
                mib(Some(h.bound_kib)),
                mib(h.after_rss_kib),
                format!("{} / {}", opt(h.idle_threads), opt(h.peak_threads)),
                format!(
                    "{} / {}",
                    h.login_before.map_or("–".to_owned(), ms),
                    h.login_after.map_or("**failed**".to_owned(), ms)
                ),
                above
                    .map_or("not measured", |a| verdict(a <= h.bound_kib))
                    .to_owned(),
            ]
        }),
    );
    Section {
        heading: "## 5. Clients that hang up in the middle of a hash".into(),
        body: format!(
            "One node with the server's defaults (argon2id m = 19456 KiB, t = 2; default hash \
             concurrency and queue; only the rate limits off). {CLIENTS} clients, for {} s, \
             each in a loop: connect, send `POST /api/register` with a fresh name and a valid \
             password, hang up {} ms later, long before the hash is done. The node's resident \
             memory (`VmRSS`) and threads are read every 50 ms during the flood and for {} s \
             after it. A hang-up must not free the client's place in the hasher before \
             argon2 has finished with its memory, so the peak must stay within hash \
             concurrency × 19 MiB of idle (idle: after one registration and one login). \
             Then one login of a user registered before the flood, timed alone.\n\n{body}\n",
            FLOOD.as_secs(),
            HANG_UP_AFTER.as_millis(),
            AFTER.as_secs(),
        ),
        targets: Vec::new(),
    }
}
