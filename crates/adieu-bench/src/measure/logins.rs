//! Measurement 3: HTTP logins against the machine's in-process argon2id limit, and clean
//! 429s above it.
//!
//! Each run measures the in-process limit and then the HTTP logins, so that the two figures
//! of a run come from the same minute: on a shared or virtual machine the speed of a core
//! drifts by more than the 10 % the target allows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adieu_core::{Argon2Params, PasswordHasher};
use adieu_types::Secret;
use anyhow::Context;
use reqwest::StatusCode;
use tokio::sync::{Semaphore, mpsc};

use super::{Backend, Ctx, ServerKind, stop_all};
use crate::api::PASSWORD;
use crate::node::Node;
use crate::report::{Section, col, lat, ms, spread, table, verdict};
use crate::stats::{Latency, Spread};
use crate::watch;

/// HTTP logins reach this fraction of the argon2id limit.
pub(crate) const TARGET: f64 = 0.9;

/// One run of back-to-back logins.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Run {
    /// HTTP logins per second.
    pub(crate) per_sec: f64,
    /// In-process argon2id hashes per second, one thread per core, memory allocated once:
    /// the physical limit, measured just before this run's logins.
    pub(crate) limit: f64,
    /// In-process verifications per second through the server's own hasher, likewise.
    pub(crate) hasher: f64,
    /// Cores used by the node, PostgreSQL and the load generator during the logins.
    pub(crate) cores: [f64; 3],
    pub(crate) latency: Option<Latency>,
    /// Non-200 answers and transport errors.
    pub(crate) errors: u64,
}

/// One run of logins arriving at a fixed rate above the limit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overload {
    pub(crate) offered_per_sec: f64,
    pub(crate) sent: u64,
    /// Arrivals skipped because the generator's own in-flight bound was reached.
    pub(crate) not_sent: u64,
    /// 200, 429, 429 with `Retry-After`, other statuses, timeouts, connection errors.
    pub(crate) counts: [u64; 6],
    pub(crate) ok_latency: Vec<Duration>,
    pub(crate) too_many_latency: Vec<Duration>,
    pub(crate) elapsed: Duration,
}

/// One configuration: its label, clients, runs below the limit and above it.
pub(crate) type Row = (String, usize, Vec<Run>, Vec<Overload>);

pub(crate) async fn run(ctx: &mut Ctx) -> anyhow::Result<Section> {
    let mut rows = Vec::new();
    for kind in ctx.kinds(false) {
        let label = format!("logins-{}", kind.slug());
        let db = ctx.fresh_database(kind.backend, &label).await?;
        let nodes = ctx.start_nodes(&db, kind, &label, 1).await?;
        let result = on(ctx, kind, &nodes[0]).await;
        stop_all(nodes).await;
        match result {
            Ok(row) => rows.push(row),
            Err(e) => ctx.not_measured("logins", kind, &e),
        }
    }
    Ok(render(&rows))
}

async fn on(ctx: &Ctx, kind: ServerKind, node: &Node) -> anyhow::Result<Row> {
    let o = &ctx.opts;
    let user = "bench-login";
    ctx.api.register(node.addr, user).await?;
    // Unmeasured, like every other warm-up: the first seconds of a burst run slower.
    argon2_limits(ctx, o.warmup).await?;
    login_loop(ctx, node, user, o.warmup).await;
    let mut runs = Vec::new();
    for run in 0..o.runs {
        let (limit, hasher) = argon2_limits(ctx, o.duration).await?;
        let pg = || (kind.backend == Backend::Postgres).then(watch::postgres_ticks);
        let before = [node.process.ticks(), pg(), watch::ticks("self")];
        let started = Instant::now();
        let mut r = login_loop(ctx, node, user, o.login_duration).await;
        let after = [node.process.ticks(), pg(), watch::ticks("self")];
        r.cores = std::array::from_fn(|i| ctx.cores(before[i], after[i], started.elapsed()));
        (r.limit, r.hasher) = (limit, hasher);
        eprintln!(
            "  {} run {}: limit {limit:.1}/s, server's hasher {hasher:.1}/s, HTTP logins {:.1}/s ({:.0} % of the limit), {} errors",
            kind.label(),
            run + 1,
            r.per_sec,
            100.0 * r.per_sec / limit,
            r.errors
        );
        runs.push(r);
    }
    let limit = Spread::of(runs.iter().map(|r| r.limit))
        .context("no limit measured")?
        .median;
    let mut over = Vec::new();
    for run in 0..o.overload_runs {
        let r = overload(ctx, node, user, o.overload_factor * limit).await;
        eprintln!(
            "  {} overload run {}: offered {:.1}/s, 200/429/other/timeouts/errors {:?}",
            kind.label(),
            run + 1,
            r.offered_per_sec,
            r.counts
        );
        over.push(r);
        // Let the queue drain, so that each run starts from an idle server.
        for _ in 0..50 {
            if ctx
                .api
                .login_raw(node.addr, user)
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok((kind.label(), o.login_clients(ctx.cores), runs, over))
}

/// One run of the in-process argon2id limits, both without HTTP: the physical limit (one
/// thread per core, each hashing into memory allocated once), then the rate through the
/// server's own [`PasswordHasher`] as the server runs it (bounded, on the blocking pool).
async fn argon2_limits(ctx: &Ctx, duration: Duration) -> anyhow::Result<(f64, f64)> {
    let threads = ctx.cores;
    let raw = tokio::task::spawn_blocking(move || raw_argon2_rate(threads, duration))
        .await
        .context("argon2id threads panicked")??;
    let hasher = PasswordHasher::new(Argon2Params::default(), ctx.cores, 4 * ctx.cores)
        .context("building the hasher")?;
    let password = Secret::new(PASSWORD);
    let phc: Arc<str> = hasher.hash(&password).await?.into();
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    // Twice as many callers as cores, so that a core never waits for the next hash.
    for _ in 0..2 * ctx.cores {
        let (hasher, password, phc) = (hasher.clone(), password.clone(), phc.clone());
        workers.spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < duration {
                n += u64::from(hasher.verify(&password, Some(&phc)).await?);
            }
            Ok::<_, adieu_core::HashError>(n)
        });
    }
    let mut total = 0;
    while let Some(n) = workers.join_next().await {
        total += n??;
    }
    Ok((raw, total as f64 / start.elapsed().as_secs_f64()))
}

/// Hashes per second on `threads` threads at the default parameters, memory allocated once.
fn raw_argon2_rate(threads: usize, duration: Duration) -> anyhow::Result<f64> {
    let p = Argon2Params::default();
    let params = argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let start = Instant::now();
    let total = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let params = params.clone();
                scope.spawn(move || {
                    let argon2 = argon2::Argon2::new(
                        argon2::Algorithm::Argon2id,
                        argon2::Version::V0x13,
                        params.clone(),
                    );
                    let mut blocks = vec![argon2::Block::default(); params.block_count()];
                    let (mut out, salt, mut n) = ([0u8; 32], [t as u8; 16], 0u64);
                    while start.elapsed() < duration {
                        argon2.hash_password_into_with_memory(
                            PASSWORD.as_bytes(),
                            &salt,
                            &mut out,
                            &mut blocks,
                        )?;
                        n += 1;
                    }
                    Ok::<u64, argon2::Error>(n)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("argon2id thread panicked"))
            .sum::<Result<u64, _>>()
    })
    .map_err(|e| anyhow::anyhow!("argon2id: {e}"))?;
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// `login_clients` clients log in back to back for `duration`.
async fn login_loop(ctx: &Ctx, node: &Node, user: &str, duration: Duration) -> Run {
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..ctx.opts.login_clients(ctx.cores) {
        let (api, addr, user) = (ctx.api.clone(), node.addr, user.to_owned());
        workers.spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while start.elapsed() < duration {
                let t = Instant::now();
                match api.login_raw(addr, &user).await {
                    Ok(r) if r.status() == StatusCode::OK => match r.bytes().await {
                        Ok(_) => lat.push(t.elapsed()),
                        Err(_) => errors += 1,
                    },
                    _ => errors += 1,
                }
            }
            (lat, errors)
        });
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    while let Some(Ok((l, e))) = workers.join_next().await {
        lat.extend(l);
        errors += e;
    }
    Run {
        per_sec: lat.len() as f64 / start.elapsed().as_secs_f64(),
        latency: Latency::of(&lat),
        errors,
        ..Run::default()
    }
}

/// Logins arriving at `rate` per second for the login duration, answered or not.
async fn overload(ctx: &Ctx, node: &Node, user: &str, rate: f64) -> Overload {
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let in_flight = Arc::new(Semaphore::new(ctx.opts.max_in_flight));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut run = Overload {
        offered_per_sec: rate,
        ..Overload::default()
    };
    let start = tokio::time::Instant::now();
    for k in 0.. {
        let at = start + interval * k;
        if at >= start + ctx.opts.login_duration {
            break;
        }
        tokio::time::sleep_until(at).await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            run.not_sent += 1;
            continue;
        };
        run.sent += 1;
        let (api, addr, user, tx) = (ctx.api.clone(), node.addr, user.to_owned(), tx.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            // The index into `counts`, and the latency of a 200 or a 429.
            let outcome = match api.login_raw(addr, &user).await {
                Ok(r) => {
                    let (status, retry) = (
                        r.status().as_u16(),
                        r.headers().contains_key(reqwest::header::RETRY_AFTER),
                    );
                    match (status, r.bytes().await) {
                        (200, Ok(_)) => (0, Some(t.elapsed()), false),
                        (429, Ok(_)) => (1, Some(t.elapsed()), retry),
                        (_, Err(e)) if e.is_timeout() => (4, None, false),
                        (_, Err(_)) => (5, None, false),
                        _ => (3, None, false),
                    }
                }
                Err(e) if e.is_timeout() => (4, None, false),
                Err(_) => (5, None, false),
            };
            let _ = tx.send(outcome);
            drop(permit);
        });
    }
    drop(tx);
    // Ends when every request has finished, each bounded by the client's timeout.
    while let Some((i, latency, retry_after)) = rx.recv().await {
        run.counts[i] += 1;
        run.counts[2] += u64::from(retry_after);
        let into = if i == 0 {
            &mut run.ok_latency
        } else {
            &mut run.too_many_latency
        };
        into.extend(latency);
    }
    run.elapsed = start.elapsed();
    run
}

pub(crate) fn render(rows: &[Row]) -> Section {
    let all = |f: fn(&Run) -> f64| Spread::of(rows.iter().flat_map(|r| r.2.iter().map(f)));
    let pct = |r: &[Run], f: fn(&Run) -> f64| {
        spread(
            Spread::of(r.iter().map(|x| 100.0 * x.per_sec / f(x))),
            1,
            " %",
        )
    };
    let below = table(
        "server | clients | limit /s | logins/s | % of the limit | % of the server's hasher | p50 / p99 ms | server CPU (cores) | PostgreSQL CPU (cores) | load generator CPU (cores) | errors",
        rows.iter().map(|(label, clients, r, _)| {
            let mut row = vec![
                label.clone(),
                clients.to_string(),
                col(r, |x| x.limit, 1),
                col(r, |x| x.per_sec, 1),
            ];
            row.extend([
                pct(r, |x| x.limit),
                pct(r, |x| x.hasher),
                lat(r, |x| x.latency, 0),
            ]);
            row.extend((0..3).map(|i| col(r, |x| x.cores[i], 2)));
            row.push(r.iter().map(|x| x.errors).sum::<u64>().to_string());
            row
        }),
    );
    let shares = match (
        all(|r| 100.0 * r.hasher / r.limit),
        all(|r| 100.0 * r.per_sec / r.hasher),
    ) {
        (Some(h), Some(v)) => format!(
            "\nWithout HTTP, the server's hasher reaches {:.0} % of the limit; HTTP logins reach {:.0} % of the server's hasher (medians of all runs).\n",
            h.median, v.median
        ),
        _ => String::new(),
    };
    let p99 = |l: &[Duration]| Latency::of(l).map_or("–".to_owned(), |l| ms(l.p99));
    let above = table(
        "server | offered/s | sent | 200 | 429 (with Retry-After) | other | timeouts | connection errors | 200/s | 200 p99 ms | 429 p99 ms",
        rows.iter()
            .flat_map(|(label, _, _, over)| over.iter().map(move |x| (label, x)))
            .map(|(label, x)| {
                let c = x.counts;
                let ok_per_sec = c[0] as f64 / x.elapsed.as_secs_f64().max(f64::EPSILON);
                vec![
                    label.clone(),
                    format!("{:.1}", x.offered_per_sec),
                    x.sent.to_string(),
                    c[0].to_string(),
                    format!("{} ({})", c[1], c[2]),
                ]
                .into_iter()
                .chain([c[3], c[4], c[5]].map(|n| n.to_string()))
                .chain([
                    format!("{ok_per_sec:.1}"),
                    p99(&x.ok_latency),
                    p99(&x.too_many_latency),
                ])
                .collect()
            }),
    );
    let skipped = if rows.iter().any(|r| r.3.iter().any(|x| x.not_sent > 0)) {
        "\nSome arrivals were not sent because the load generator's own bound on requests in flight was reached; they are not counted above.\n"
    } else {
        ""
    };
    let mut targets = Vec::new();
    for (label, _, r, _) in rows {
        // Each run against the limit measured in the same run.
        let f = Spread::of(r.iter().map(|x| 100.0 * x.per_sec / x.limit));
        let v = f.map_or("not measured", |f| verdict(f.median >= TARGET * 100.0));
        targets.push(format!(
            "| HTTP logins/s ÷ in-process argon2id limit, {label} | ≥ {:.0} % | {} | {v} |",
            TARGET * 100.0,
            spread(f, 1, " %")
        ));
    }
    for (label, _, _, over) in rows {
        let c: Vec<u64> = (0..6)
            .map(|i| over.iter().map(|x| x.counts[i]).sum())
            .collect();
        let clean = c[3] + c[4] + c[5] == 0 && c[1] == c[2];
        let v = if c[1] == 0 {
            "**NOT REACHED** (no 429 at this load)"
        } else {
            verdict(clean)
        };
        targets.push(format!(
            "| logins above the limit, {label}: clean 429s, no timeouts | every refusal a 429 with Retry-After; 0 timeouts, 0 errors | {} × 429 ({} with Retry-After), {} timeouts, {} connection errors, {} other statuses | {v} |",
            c[1], c[2], c[4], c[5], c[3]
        ));
    }
    Section {
        heading: "## 3. Login throughput against the argon2id limit".into(),
        body: format!(
            "**The limit:** argon2id hashes per second at the server's default parameters \
             (m = 19456 KiB, t = 2, p = 1) on all cores, measured in this process with one \
             thread per core and each thread's memory allocated once, no HTTP: **{} /s**. \
             Through the server's own hasher (`PasswordHasher`, bounded and on the blocking \
             pool as in the server), still in-process and without HTTP: {} /s.\n\n\
             **Below the limit:** a fixed number of clients log the same user in back to back \
             (fewer than the hash queue admits, so none is turned away). Each run measures \
             the limit and the server's hasher in-process first, then the HTTP logins, and \
             compares the logins with the limit of the same run: the speed of this machine's \
             cores drifts from minute to minute by more than the 10 % the target allows.\n\n\
             {below}{shares}\n\
             **Above the limit:** logins arrive at a fixed rate above the limit, whether or \
             not earlier ones were answered (each request gives up after its timeout). The \
             server should answer what it can and turn the rest away at once with 429 and \
             `Retry-After`, never leave a request hanging.\n\n{above}{skipped}\n",
            spread(all(|r| r.limit), 1, ""),
            spread(all(|r| r.hasher), 1, ""),
        ),
        targets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(too_many: u64) -> Row {
        let run = Run {
            per_sec: 30.0,
            limit: 41.0,
            hasher: 40.0,
            ..Run::default()
        };
        let over = Overload {
            counts: [5, too_many, too_many, 0, 0, 0],
            elapsed: Duration::from_secs(1),
            ..Overload::default()
        };
        ("SQLite".into(), 8, vec![run], vec![over])
    }

    #[test]
    fn a_miss_is_shown_and_an_overload_without_a_429_is_not_a_pass() {
        let s = render(&[row(100)]);
        // 30 of a 41/s limit is 73 %: a miss, and it says so.
        assert_eq!(
            s.targets[0],
            "| HTTP logins/s ÷ in-process argon2id limit, SQLite | ≥ 90 % | 73.2 % | **MISS** |"
        );
        assert!(s.targets[1].contains("| 100 × 429 (100 with Retry-After), 0 timeouts, 0 connection errors, 0 other statuses | **PASS** |"), "{:?}", s.targets);
        assert!(
            s.body
                .contains("| SQLite | 0.0 | 0 | 5 | 100 (100) | 0 | 0 | 0 | 5.0 | – | – |"),
            "{}",
            s.body
        );
        assert!(render(&[row(0)]).targets[1].contains("**NOT REACHED**"));
    }
}
