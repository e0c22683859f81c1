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

/// On one SQLite node with the server's defaults.
pub(crate) async fn run(ctx: &mut Ctx) -> anyhow::Result<Section> {
    let kind = ServerKind::SQLITE;
    let db = ctx.fresh_database(kind.backend, "hangup").await?;
    let nodes = ctx.start_nodes(&db, kind, "hangup", 1).await?;
    let result = on(ctx, kind, &nodes[0]).await;
    stop_all(nodes).await;
    Ok(render(Some(result?)))
}

/// The row of the table: the node idle (after one registration and one login, whose memory
/// the allocator keeps, as in measurement 4), at its peak during the flood and the pause
/// after it, and at the end of that pause.
async fn on(ctx: &mut Ctx, kind: ServerKind, node: &Node) -> anyhow::Result<Vec<String>> {
    let user = "bench-hangup-login";
    ctx.api.register(node.addr, user).await?;
    let t = Instant::now();
    ctx.api.login(node.addr, user).await?;
    let login_before = t.elapsed();
    let p = &node.process;
    let (idle_rss, idle_threads) = (p.rss_kib(), p.threads());
    let (mut peak_rss, mut peak_threads) = (idle_rss, idle_threads);
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        clients.spawn(flood(node.addr, client, started + FLOOD));
    }
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    while started.elapsed() < FLOOD + AFTER {
        tick.tick().await;
        (peak_rss, peak_threads) = (peak_rss.max(p.rss_kib()), peak_threads.max(p.threads()));
    }
    let after_rss = p.rss_kib();
    let (mut sent, mut errors) = (0, 0);
    while let Some(joined) = clients.join_next().await {
        let (s, e) = joined?;
        (sent, errors) = (sent + s, errors + e);
    }
    let t = Instant::now();
    let login_after = match ctx.api.login(node.addr, user).await {
        Ok(_) => ms(t.elapsed()),
        Err(e) => {
            ctx.notes
                .push(format!("The login after the hang-up flood failed: {e:#}."));
            "**failed**".to_owned()
        }
    };
    eprintln!(
        "  {}: {sent} registrations sent and hung up on, RSS idle {idle_rss:?} KiB, peak {peak_rss:?} KiB, after {after_rss:?} KiB",
        kind.label()
    );
    // The server's default hash concurrency, computed the same way, and its working memory.
    let bound = ctx.cores as u64 * u64::from(Argon2Params::default().memory_kib);
    let above = peak_rss.zip(idle_rss).map(|(p, i)| p.saturating_sub(i));
    let opt = |n: Option<u64>| n.map_or("–".to_owned(), |n| n.to_string());
    Ok(vec![
        kind.label(),
        ctx.cores.to_string(),
        format!("{} ({errors})", thousands(sent)),
        mib(idle_rss),
        mib(peak_rss),
        mib(above),
        mib(Some(bound)),
        mib(after_rss),
        format!("{} / {}", opt(idle_threads), opt(peak_threads)),
        format!("{} / {login_after}", ms(login_before)),
        above
            .map_or("not measured", |a| verdict(a <= bound))
            .to_owned(),
    ])
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

pub(crate) fn render(row: Option<Vec<String>>) -> Section {
    let body = table(
        &format!(
            "server | hash concurrency | registrations sent (connection errors) | RSS idle MiB | RSS peak MiB | peak above idle MiB | bound above idle MiB | RSS {} s after MiB | threads idle / peak | one login before / after ms | within the bound",
            AFTER.as_secs()
        ),
        row,
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
