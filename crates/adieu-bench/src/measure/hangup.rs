//! Measurement 5: clients that hang up in the middle of a password hash.
//!
//! A registration costs one argon2id hash and its working memory (19 MiB at the default
//! parameters). If a client's hang-up freed its place in the hasher before argon2 had finished,
//! a flood of such clients would run more hashes at once than the bound, and the node's memory
//! and threads would grow with the flood instead of staying within `hash concurrency × 19 MiB`
//! of idle.

use std::net::SocketAddr;

use adieu_core::Argon2Params;
use tokio::io::AsyncWriteExt;

use super::prelude::*;
use crate::http::credentials;
use crate::report::{mib, thousands};

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

/// On one SQLite node with the server's defaults.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    let setup = vec![(Kind::SQLITE, 1)];
    let rows = ctx.each(setup, async |_, _, nodes| on(ctx, &nodes[0]).await);
    let body = table(
        &format!(
            "server | hash concurrency | registrations sent (connection errors) | RSS idle MiB | \
             RSS peak MiB | peak above idle MiB | bound above idle MiB | RSS {} s after MiB | \
             threads idle / peak | one login before / after ms | within the bound",
            AFTER.as_secs()
        ),
        rows.await?,
    );
    let (flood, hang_up, every, after) = (
        FLOOD.as_secs(),
        HANG_UP_AFTER.as_millis(),
        SAMPLE_EVERY.as_millis(),
        AFTER.as_secs(),
    );
    let body = format!(
        "One node with the server's defaults (argon2id m = 19456 KiB, t = 2; default hash \
         concurrency and queue; only the rate limits off). {CLIENTS} clients, for {flood} s, each \
         in a loop: connect, send `POST /api/register` with a fresh name and a valid password, \
         hang up {hang_up} ms later, long before the hash is done. The node's resident memory \
         (`VmRSS`) and threads are read every {every} ms during the flood and for {after} s after \
         it. A hang-up must not free the client's place in the hasher before argon2 has finished \
         with its memory, so the peak must stay within hash concurrency × 19 MiB of idle (idle: \
         after one registration and one login). Then one login of a user registered before the \
         flood, timed alone.\n\n{body}\n"
    );
    let heading = "## 5. Clients that hang up in the middle of a hash";
    Ok(Section::new(heading, body, Vec::new()))
}

/// The row of the table: the node idle (after one registration and one login, whose memory the
/// allocator keeps, as in measurement 4), at its peak during the flood and the pause after it,
/// and at the end of that pause.
async fn on(ctx: &Ctx, node: &Process) -> anyhow::Result<[String; 11]> {
    let user = "bench-hangup-login";
    ctx.register(node, user).await?;
    let t = Instant::now();
    ctx.login(node, user).await?;
    let before = t.elapsed();
    let (idle_rss, idle_threads) = node.rss_and_threads();
    let (mut peak_rss, mut peak_threads) = (idle_rss, idle_threads);
    let (started, mut clients) = (Instant::now(), tokio::task::JoinSet::new());
    for client in 0..CLIENTS {
        clients.spawn(flood(node.addr(), client, started + FLOOD));
    }
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    while started.elapsed() < FLOOD + AFTER {
        tick.tick().await;
        let (rss, threads) = node.rss_and_threads();
        (peak_rss, peak_threads) = (peak_rss.max(rss), peak_threads.max(threads));
    }
    let after_rss = node.rss_and_threads().0;
    let (mut sent, mut errors) = (0, 0);
    while let Some(joined) = clients.join_next().await {
        let (s, e) = joined?;
        (sent, errors) = (sent + s, errors + e);
    }
    let t = Instant::now();
    let after = match ctx.login(node, user).await {
        Ok(_) => ms(t.elapsed()),
        Err(e) => {
            ctx.note(format!("The login after the hang-up flood failed: {e:#}."));
            "**failed**".to_owned()
        }
    };
    eprintln!(
        "  {sent} registrations sent and hung up on, RSS idle {idle_rss:?} KiB, peak {peak_rss:?} KiB"
    );
    // The server's default hash concurrency (one per core) and the working memory of each.
    let bound = ctx.cores as u64 * u64::from(Argon2Params::default().memory_kib);
    let above = peak_rss.zip(idle_rss).map(|(p, i)| p.saturating_sub(i));
    let opt = |n: Option<u64>| n.map_or("–".to_owned(), |n| n.to_string());
    Ok([
        Kind::SQLITE.label(),
        ctx.cores.to_string(),
        format!("{} ({errors})", thousands(sent)),
        mib(idle_rss),
        mib(peak_rss),
        mib(above),
        mib(Some(bound)),
        mib(after_rss),
        format!("{} / {}", opt(idle_threads), opt(peak_threads)),
        format!("{} / {after}", ms(before)),
        above.map_or("not measured".to_owned(), |a| verdict(a <= bound)),
    ])
}

/// One client until `deadline`: connect, send a registration of a fresh name, hang up soon
/// after. Returns the requests sent and the connections that failed.
async fn flood(addr: SocketAddr, client: usize, deadline: Instant) -> (u64, u64) {
    let (mut sent, mut errors) = (0, 0);
    for n in 0.. {
        if Instant::now() >= deadline {
            break;
        }
        let body = credentials(&format!("bench-hangup-{client}-{n}")).to_string();
        let head =
            "POST /api/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json";
        let request = format!("{head}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
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
