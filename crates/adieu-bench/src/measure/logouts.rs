//! Measurement 2: how long a logout takes, and whether any node accepts the token after
//! its 200.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::Method;

use super::{Backend, Ctx, Database, ServerKind, stop_all};
use crate::http::{self, Conn};
use crate::node::Node;
use crate::report::{Section, spread, table};
use crate::seed::Seeder;
use crate::stats::{Latency, Spread};

/// One run: the logouts' latencies, and checks right after the 200 (and how many passed).
pub(crate) struct Run {
    pub(crate) latencies: Vec<Duration>,
    pub(crate) checks: u64,
    pub(crate) accepted: u64,
}

pub(crate) async fn run(ctx: &mut Ctx) -> anyhow::Result<Section> {
    let mut rows = Vec::new();
    // One node on every backend; three on PostgreSQL with the cache, where several make sense.
    for kind in ctx.kinds(true) {
        let several = kind.backend == Backend::Postgres && kind.cache == Some(true);
        for n in if several { vec![1, 3] } else { vec![1] } {
            let label = format!("logout-{}-{n}", kind.slug());
            let db = ctx.fresh_database(kind.backend, &label).await?;
            let nodes = ctx.start_nodes(&db, kind, &label, n).await?;
            let result = on(ctx, kind, &db, &nodes).await;
            stop_all(nodes).await;
            let s = if n == 1 { "" } else { "s" };
            match result {
                Ok(runs) => rows.push((format!("{}, {n} node{s}", kind.label()), runs)),
                Err(e) => ctx.not_measured(&format!("logout latency ({n} node{s})"), kind, &e),
            }
        }
    }
    Ok(render(&rows))
}

async fn on(
    ctx: &Ctx,
    kind: ServerKind,
    db: &Database,
    nodes: &[Node],
) -> anyhow::Result<Vec<Run>> {
    let o = &ctx.opts;
    let seeder = Seeder::open(&db.url).await?;
    let needed = (o.runs * o.logouts) as u64;
    seeder.seed(0, needed).await?;
    let tokens: Vec<String> = (0..needed).map(|i| seeder.access_token(i)).collect();
    seeder.close().await;
    let mut tokens = tokens.into_iter();
    let mut conns = Vec::with_capacity(nodes.len());
    for node in nodes {
        conns.push(Conn::connect(node.addr).await?);
    }
    let mut runs = Vec::with_capacity(o.runs);
    for run in 0..o.runs {
        let mut r = Run {
            latencies: Vec::with_capacity(o.logouts),
            checks: 0,
            accepted: 0,
        };
        for _ in 0..o.logouts {
            let auth = http::bearer(&tokens.next().context("ran out of seeded sessions")?);
            // Checked first on every node, so that nodes with a cache hold the token.
            for (i, conn) in conns.iter_mut().enumerate() {
                let a = conn.send(http::get("/api/me", Some(&auth))).await?;
                if !a.status.is_success() {
                    bail!(
                        "node {i} refused a live seeded session before logout: {}",
                        a.status
                    );
                }
            }
            let started = Instant::now();
            let a = conns[0]
                .send(http::request(
                    Method::POST,
                    http::NODE_HOST,
                    "/api/logout",
                    Some(&auth),
                    None,
                ))
                .await?;
            r.latencies.push(started.elapsed());
            if !a.status.is_success() {
                bail!("logout answered {}", a.status);
            }
            for conn in &mut conns {
                r.checks += 1;
                r.accepted += u64::from(
                    conn.send(http::get("/api/me", Some(&auth)))
                        .await?
                        .status
                        .is_success(),
                );
            }
        }
        let l = Latency::of(&r.latencies).context("no logouts")?;
        eprintln!(
            "  {} × {} run {}: p50 {} ms, p99 {} ms, accepted after logout {}",
            kind.label(),
            nodes.len(),
            run + 1,
            crate::report::ms(l.p50),
            crate::report::ms(l.p99),
            r.accepted
        );
        runs.push(r);
    }
    Ok(runs)
}

pub(crate) fn render(rows: &[(String, Vec<Run>)]) -> Section {
    let ms = |r: &[Run], f: fn(&[Duration]) -> Option<Duration>| {
        spread(
            Spread::of_millis(r.iter().filter_map(|x| f(&x.latencies))),
            2,
            "",
        )
    };
    let p50 = |l: &[Duration]| Latency::of(l).map(|l| l.p50);
    let p99 = |l: &[Duration]| Latency::of(l).map(|l| l.p99);
    let max = |l: &[Duration]| l.iter().copied().max();
    let sum = |r: &[Run], f: fn(&Run) -> u64| r.iter().map(f).sum::<u64>();
    let body = table(
        "set-up | p50 ms | p99 ms | slowest ms | logouts | accepted after the 200",
        rows.iter().map(|(label, r)| {
            let n = sum(r, |x| x.latencies.len() as u64);
            let after = format!("{} of {}", sum(r, |x| x.accepted), sum(r, |x| x.checks));
            vec![
                label.clone(),
                ms(r, p50),
                ms(r, p99),
                ms(r, max),
                n.to_string(),
                after,
            ]
        }),
    );
    Section {
        heading: "## 2. Logout latency".into(),
        body: format!(
            "One logout at a time, no other load. Before each logout the token is checked on \
             every node (so that nodes with a cache hold it); the logout goes to the first \
             node; the moment its 200 arrives, the token is checked again on every node.\n\n{body}\n"
        ),
        targets: rows
            .iter()
            .filter(|(_, r)| sum(r, |x| x.checks) > 0)
            .map(|(label, r)| {
                let (accepted, checks) = (sum(r, |x| x.accepted), sum(r, |x| x.checks));
                format!(
                    "| token accepted right after logout's 200, {label} | 0 | {accepted} of {checks} checks | {} |",
                    crate::report::verdict(accepted == 0)
                )
            })
            .collect(),
    }
}
