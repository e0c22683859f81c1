//! Measurement 4: check latency and memory with 1,000 versus 1,000,000 live sessions.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::{Ctx, Database, ServerKind, stop_all};
use crate::http::{self, Conn};
use crate::node::Node;
use crate::report::{Section, mib, spread, table, thousands};
use crate::seed::Seeder;
use crate::stats::{Latency, Spread};

/// One backend at one database size.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub(crate) label: String,
    pub(crate) sessions: u64,
    /// Repeated checks of a few real logins' tokens, one request at a time, per run.
    pub(crate) hot: Vec<Latency>,
    /// First checks of seeded tokens picked at random, one request at a time, per run.
    pub(crate) cold: Vec<Latency>,
    pub(crate) errors: u64,
    pub(crate) rss_kib: [Option<u64>; 2],
    pub(crate) db_bytes: Option<u64>,
}

pub(crate) async fn run(ctx: &mut Ctx) -> anyhow::Result<Section> {
    let mut rows = Vec::new();
    for kind in ctx.kinds(false) {
        match sizes(ctx, kind).await {
            Ok(r) => rows.extend(r),
            Err(e) => ctx.not_measured("scale", kind, &e),
        }
    }
    Ok(render(&rows))
}

/// Every size in `scale_sizes` (ascending) on one database, the node restarted after each
/// bulk load so that its memory is measured from a fresh start.
async fn sizes(ctx: &mut Ctx, kind: ServerKind) -> anyhow::Result<Vec<Row>> {
    let label = format!("scale-{}", kind.slug());
    let db = ctx.fresh_database(kind.backend, &label).await?;
    let seeder = Seeder::open(&db.url).await?;
    let (mut rows, mut seeded) = (Vec::new(), 0);
    let mut rng = u64::from_le_bytes(adieu_core::random_bytes::<8>());
    for &size in &ctx.opts.scale_sessions {
        let started = Instant::now();
        seeder.seed(seeded, size).await?;
        eprintln!(
            "  {}: seeded sessions {seeded}..{size} in {:.0} s",
            kind.label(),
            started.elapsed().as_secs_f64()
        );
        seeded = size;
        let db_bytes = db_size(ctx, &db).await;
        let nodes = ctx.start_nodes(&db, kind, &label, 1).await?;
        let result = on(ctx, kind, &nodes[0], &seeder, size, &mut rng).await;
        stop_all(nodes).await;
        rows.push(Row {
            db_bytes,
            ..result?
        });
    }
    seeder.close().await;
    Ok(rows)
}

async fn db_size(ctx: &Ctx, db: &Database) -> Option<u64> {
    match (&db.sqlite_file, &ctx.pg) {
        (Some(file), _) => {
            let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
            Some(size(file) + size(&file.with_extension("db-wal")))
        }
        (None, Some(pg)) => pg.analyze_and_size(&db.url).await,
        (None, None) => None,
    }
}

async fn on(
    ctx: &Ctx,
    kind: ServerKind,
    node: &Node,
    seeder: &Seeder,
    size: u64,
    rng: &mut u64,
) -> anyhow::Result<Row> {
    let o = &ctx.opts;
    let hot: Vec<_> = ctx
        .real_tokens(node, &format!("bench-scale-{size}"), 4)
        .await?
        .iter()
        .map(|t| http::bearer(t))
        .collect();
    // Read after the logins: their argon2id memory (19 MiB each, which the allocator keeps)
    // would otherwise dwarf everything the sessions themselves cost.
    let mut row = Row {
        label: kind.label(),
        sessions: size,
        rss_kib: [node.process.rss_kib(), None],
        ..Row::default()
    };
    let mut conn = Conn::connect(node.addr).await?;
    // The last seeded session proves the seeding right, and is never a cold sample.
    if check(&mut conn, http::bearer(&seeder.access_token(size - 1)))
        .await?
        .is_none()
    {
        bail!("the node refused a seeded session: seeding is broken");
    }
    for auth in &hot {
        check(&mut conn, auth.clone()).await?;
    }
    let wanted = (o.runs * o.scale_samples).min(size.saturating_sub(1) as usize);
    let cold = pick_distinct(rng, size - 1, wanted);
    for (run, cold_run) in cold
        .chunks((wanted / o.runs).max(1))
        .take(o.runs)
        .enumerate()
    {
        let (mut hot_lat, mut cold_lat) = (Vec::new(), Vec::new());
        for i in 0..o.scale_samples {
            hot_lat.extend(check(&mut conn, hot[i % hot.len()].clone()).await?);
        }
        for &i in cold_run {
            cold_lat.extend(check(&mut conn, http::bearer(&seeder.access_token(i))).await?);
        }
        row.errors += (o.scale_samples + cold_run.len() - hot_lat.len() - cold_lat.len()) as u64;
        let (h, c) = (Latency::of(&hot_lat), Latency::of(&cold_lat));
        let p50 = |l: Option<Latency>| l.map_or("–".to_owned(), |l| crate::report::ms(l.p50));
        eprintln!(
            "  {} at {size} run {}: hot p50 {} ms, cold p50 {} ms",
            kind.label(),
            run + 1,
            p50(h),
            p50(c)
        );
        row.hot.extend(h);
        row.cold.extend(c);
    }
    row.rss_kib[1] = node.process.rss_kib();
    Ok(row)
}

/// One check, timed if it was accepted.
async fn check(
    conn: &mut Conn,
    auth: hyper::header::HeaderValue,
) -> anyhow::Result<Option<Duration>> {
    let t = Instant::now();
    Ok(conn
        .send(http::get("/api/me", Some(&auth)))
        .await?
        .status
        .is_success()
        .then(|| t.elapsed()))
}

/// SplitMix64: enough to pick sample indices, no cryptography needed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` distinct numbers below `bound` (or all of them when `n >= bound`), in random order.
fn pick_distinct(rng: &mut u64, bound: u64, n: usize) -> Vec<u64> {
    if n as u64 >= bound {
        return (0..bound).collect();
    }
    let (mut seen, mut out) = (HashSet::with_capacity(n), Vec::with_capacity(n));
    while out.len() < n {
        let x = next(rng) % bound;
        if seen.insert(x) {
            out.push(x);
        }
    }
    out
}

pub(crate) fn render(rows: &[Row]) -> Section {
    let lat = |v: &[Latency]| {
        let of = |f: fn(&Latency) -> Duration| spread(Spread::of_millis(v.iter().map(f)), 2, "");
        format!("{} / {}", of(|l| l.p50), of(|l| l.p99))
    };
    let body = table(
        "server | live sessions | hot p50 / p99 ms | cold p50 / p99 ms | RSS before checks MiB | RSS after checks MiB | database MiB | errors",
        rows.iter().map(|r| {
            let db = r
                .db_bytes
                .map_or("–".to_owned(), |b| format!("{:.0}", b as f64 / 1048576.0));
            vec![
                r.label.clone(),
                thousands(r.sessions),
                lat(&r.hot),
                lat(&r.cold),
                mib(r.rss_kib[0]),
                mib(r.rss_kib[1]),
                db,
                r.errors.to_string(),
            ]
        }),
    );
    Section {
        heading: "## 4. Scale: 1,000 versus 1,000,000 live sessions".into(),
        body: format!(
            "Sessions (each with an access and a refresh token, ten per user) are written \
             into the database through the store's own bulk method, then the node is started \
             afresh and a few real users log in. *Hot*: the same few real tokens checked over \
             and over. *Cold*: tokens of seeded sessions picked at random, each checked for the \
             first time. One request at a time, so these are latencies without queueing. \
             Memory is the node's resident set (`VmRSS`) before the checks (after start and the \
             few logins, whose argon2id memory the allocator keeps) and after them.\n\n{body}\n"
        ),
        targets: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_samples_are_distinct_and_in_range() {
        let mut rng = 42;
        let picks = pick_distinct(&mut rng, 1000, 500);
        assert_eq!(picks.iter().collect::<HashSet<_>>().len(), 500);
        assert!(picks.iter().all(|&x| x < 1000));
        assert_eq!(pick_distinct(&mut rng, 3, 10), vec![0, 1, 2]);
    }
}
