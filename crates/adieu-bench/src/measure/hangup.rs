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

use super::{Backend, Ctx, ServerKind, stop_all};
use crate::api;
use crate::node::Node;
use crate::report::HangupRow;

/// Clients flooding at once.
pub(crate) const CLIENTS: usize = 16;
/// How long they flood.
pub(crate) const FLOOD: Duration = Duration::from_secs(10);
/// How long a client waits after sending before it hangs up: long enough for the request to
/// reach a hash, far shorter than the hash.
pub(crate) const HANG_UP_AFTER: Duration = Duration::from_millis(3);
/// How long the node is watched after the flood.
pub(crate) const AFTER: Duration = Duration::from_secs(5);
/// How often memory and threads are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Measurement 5 on one SQLite node with the server's defaults.
pub(crate) async fn hangup(ctx: &mut Ctx) -> anyhow::Result<HangupRow> {
    let kind = ServerKind {
        backend: Backend::Sqlite,
        cache: None,
    };
    let db = ctx.fresh_database(kind.backend, "hangup").await?;
    let nodes = ctx.start_nodes(&db, kind, "hangup", 1).await?;
    let result = hangup_on(ctx, kind, &nodes[0]).await;
    stop_all(nodes).await;
    result
}

async fn hangup_on(ctx: &mut Ctx, kind: ServerKind, node: &Node) -> anyhow::Result<HangupRow> {
    let user = "bench-hangup-login";
    ctx.api.register(node.addr, user).await?;
    let t = Instant::now();
    ctx.api.login(node.addr, user).await?;
    let login_before = t.elapsed();
    // Idle after two hashes, as in measurement 4: the allocator keeps their memory.
    let mut row = HangupRow {
        label: kind.label(),
        // The server's default, computed the same way.
        hash_concurrency: ctx.cores,
        bound_kib: ctx.cores as u64 * u64::from(Argon2Params::default().memory_kib),
        idle_rss_kib: node.rss_kib(),
        idle_threads: node.threads(),
        login_before: Some(login_before),
        ..HangupRow::default()
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
        row.peak_rss_kib = row.peak_rss_kib.max(node.rss_kib());
        row.peak_threads = row.peak_threads.max(node.threads());
    }
    row.after_rss_kib = node.rss_kib();
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
