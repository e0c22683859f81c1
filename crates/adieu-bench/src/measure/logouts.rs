//! Measurement 2: how long a logout takes, and whether any node accepts the token after its
//! 200.

use anyhow::{Context, bail};

use super::prelude::*;
use crate::db::Seeder;

/// How its rows of the targets table begin.
const ROW: &str = "token accepted right after logout's 200";

/// Logouts per run.
pub(crate) fn per_run(ctx: &Ctx) -> usize {
    ctx.pick(200, 30)
}

/// One run: the logouts' latencies, and the checks right after their 200s that were accepted
/// and made.
type Run = (Vec<Duration>, u64, u64);

pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    // One node on every backend; three on PostgreSQL with the cache, where several make sense.
    let mut setups = ctx.kinds(true);
    if let Some(&(pg_cache, _)) = setups.get(1) {
        setups.insert(2, (pg_cache, 3));
    }
    let rows = ctx.each(setups, async |kind, db, nodes| {
        let s = if nodes.len() == 1 { "" } else { "s" };
        let label = format!("{}, {} node{s}", kind.label(), nodes.len());
        Ok((label.clone(), on(ctx, &label, &db.0, nodes).await?))
    });
    Ok(render(&rows.await?))
}

async fn on(ctx: &Ctx, label: &str, url: &str, nodes: &[Process]) -> anyhow::Result<Vec<Run>> {
    let o = &ctx.opts;
    let seeder = Seeder::open(url).await?;
    let needed = (o.runs * per_run(ctx)) as u64;
    seeder.seed(0, needed).await?;
    let tokens: Vec<_> = (0..needed)
        .map(|i| bearer(&seeder.access_token(i)))
        .collect();
    seeder.close().await;
    let mut tokens = tokens.iter();
    let mut conns = Vec::with_capacity(nodes.len());
    for node in nodes {
        conns.push(Conn::open(node.addr()).await?);
    }
    let mut runs = Vec::with_capacity(o.runs);
    for run in 1..=o.runs {
        let (mut latencies, mut accepted, mut checks) = (Vec::new(), 0, 0);
        for _ in 0..per_run(ctx) {
            let auth = tokens.next().context("ran out of seeded sessions")?;
            // Checked first on every node, so that nodes with a cache hold the token.
            for (i, conn) in conns.iter_mut().enumerate() {
                if !conn.me(auth).await? {
                    bail!("node {i} refused a live seeded session before its logout");
                }
            }
            let started = Instant::now();
            let logout = conns[0].send(request("POST /api/logout", Some(auth), None));
            let status = logout.await?.status();
            latencies.push(started.elapsed());
            if !status.is_success() {
                bail!("logout answered {status}");
            }
            for conn in &mut conns {
                (accepted, checks) = (accepted + u64::from(conn.me(auth).await?), checks + 1);
            }
        }
        let l = Latency::of(&latencies).context("no logouts")?;
        let (p50, p99) = (ms(l.p50), ms(l.p99));
        eprintln!("  {label} run {run}: p50 {p50} ms, p99 {p99} ms, accepted after {accepted}");
        runs.push((latencies, accepted, checks));
    }
    Ok(runs)
}

fn render(rows: &[(String, Vec<Run>)]) -> Section {
    let ms = |r: &[Run], f: fn(&[Duration]) -> Option<Duration>| {
        spread(Spread::of_millis(r.iter().filter_map(|x| f(&x.0))), 2, "")
    };
    let sum = |r: &[Run], f: fn(&Run) -> u64| r.iter().map(f).sum::<u64>();
    let after = |r: &[Run]| (sum(r, |x| x.1), sum(r, |x| x.2));
    let body = table(
        "set-up | p50 ms | p99 ms | slowest ms | logouts | accepted after the 200",
        rows.iter().map(|(label, r)| {
            let (accepted, checks) = after(r);
            [
                label.clone(),
                ms(r, |l| Some(Latency::of(l)?.p50)),
                ms(r, |l| Some(Latency::of(l)?.p99)),
                ms(r, |l| l.iter().copied().max()),
                sum(r, |x| x.0.len() as u64).to_string(),
                format!("{accepted} of {checks}"),
            ]
        }),
    );
    let targets = rows.iter().map(|(label, r)| {
        let (accepted, checks) = after(r);
        let result = format!("{accepted} of {checks} checks");
        [
            format!("{ROW}, {label}"),
            "0".into(),
            result,
            verdict(accepted == 0),
        ]
    });
    let body = format!(
        "One logout at a time, no other load. Before each logout the token is checked on every \
         node (so that nodes with a cache hold it); the logout goes to the first node; the moment \
         its 200 arrives, the token is checked again on every node.\n\n{body}\n"
    );
    Section::new("## 2. Logout latency", body, targets.collect())
}
