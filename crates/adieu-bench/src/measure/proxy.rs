//! Measurement 6: an app protected by Adieu behind nginx, against the same app unprotected.
//!
//! nginx runs the shipped `examples/nginx/adieu.conf` with only its ports changed, as the
//! forward-auth tests run it, plus one server block of the benchmark's own that proxies to
//! the same app without asking Adieu: the baseline. The difference between the two is what
//! protecting an app costs per request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

use super::{Ctx, MakeRequest, Rate, ServerKind, compare, stop_all};
use crate::http::{Conn, bearer, request};
use crate::node::{Node, Process};
use crate::report::{Section, col, lat, ratio_target, spread, table};
use crate::stats::Spread;
use crate::watch;

/// The app behind nginx and Adieu reaches this fraction of the same app behind nginx alone.
pub(crate) const TARGET: f64 = 0.6;
/// A GET of the app, through nginx.
fn get_at(auth: Option<&hyper::header::HeaderValue>) -> hyper::Request<Full<Bytes>> {
    request(hyper::Method::GET, APP_HOST, "/", auth, None)
}

/// The host the example protects.
const APP_HOST: &str = "app.example.com";

/// The nginx binary to run: `ADIEU_BENCH_NGINX`, or `nginx` on the `PATH`.
fn nginx_binary() -> PathBuf {
    std::env::var_os("ADIEU_BENCH_NGINX").map_or_else(|| PathBuf::from("nginx"), PathBuf::from)
}

/// `nginx -v`'s answer, or why nginx does not run: a missing nginx must stop the benchmark
/// before it starts, not leave a section silently empty.
pub(crate) async fn nginx_version() -> anyhow::Result<String> {
    let binary = nginx_binary();
    let out = Command::new(&binary)
        .arg("-v")
        .output()
        .await
        .with_context(|| {
            format!(
                "running nginx (`{}`): install nginx or set ADIEU_BENCH_NGINX to its binary",
                binary.display()
            )
        })?;
    if !out.status.success() {
        bail!("`{} -v` failed: {}", binary.display(), out.status);
    }
    // nginx prints its version on stderr.
    Ok(String::from_utf8_lossy(&out.stderr)
        .trim()
        .trim_start_matches("nginx version: ")
        .to_owned())
}

/// On one SQLite node with the cache on.
pub(crate) async fn run(ctx: &mut Ctx) -> anyhow::Result<Section> {
    let kind = ServerKind {
        cache: Some(true),
        ..ServerKind::SQLITE
    };
    let db = ctx.fresh_database(kind.backend, "proxy").await?;
    let nodes = ctx.start_nodes(&db, kind, "proxy", 1).await?;
    let result = on(ctx, kind, &nodes[0]).await;
    stop_all(nodes).await;
    Ok(render(&kind.label(), &nginx_version().await?, &result?))
}

async fn on(ctx: &Ctx, kind: ServerKind, node: &Node) -> anyhow::Result<Vec<Vec<Rate>>> {
    let upstream = upstream().await?;
    let (nginx, protected, plain) = nginx(&ctx.work, node.addr, upstream.0).await?;
    let result = async {
        let token = ctx.real_tokens(node, "bench-proxy", 1).await?.remove(0);
        let auth = bearer(&token);
        // One request of each kind first: the protected server must let the token through
        // and refuse a request without one, or the figures would not measure protection.
        let (mut conn, mut base) = (Conn::connect(protected).await?, Conn::connect(plain).await?);
        let with = conn.send(get_at(Some(&auth))).await?.status;
        let without = conn.send(get_at(None)).await?.status;
        let baseline = base.send(get_at(None)).await?.status;
        if !with.is_success() || without.is_success() || !baseline.is_success() {
            bail!("nginx does not protect the app as expected: with a token {with}, without {without}, unprotected {baseline}");
        }
        let targets: [(&str, SocketAddr, MakeRequest); 2] = [
            ("unprotected", plain, Arc::new(|_| get_at(None))),
            ("protected", protected, Arc::new(move |_| get_at(Some(&auth)))),
        ];
        compare(ctx, &kind.label(), &targets, || vec![nginx.ticks(), node.process.ticks(), watch::ticks("self")]).await
    }
    .await;
    nginx.stop().await;
    upstream.1.abort();
    result
}

/// The app behind nginx: 200 "ok" to every request, on a free port, until aborted.
async fn upstream() -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the upstream app")?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, say: pause rather than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            // Each connection ends when nginx closes it (nginx is stopped first).
            tokio::spawn(async move {
                let ok = hyper::service::service_fn(|_| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), ok)
                    .await;
            });
        }
    });
    Ok((addr, task))
}

/// nginx in one process (so that ending it leaves no worker behind), running
/// `examples/nginx/adieu.conf` in front of `adieu` and `app` with only the ports changed, and
/// the baseline server block beside it. Returns it and its protected and plain addresses.
async fn nginx(
    work: &Path,
    adieu: SocketAddr,
    app: SocketAddr,
) -> anyhow::Result<(Process, SocketAddr, SocketAddr)> {
    let example_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nginx/adieu.conf");
    let example = std::fs::read_to_string(&example_path)
        .with_context(|| format!("reading {}", example_path.display()))?;
    let mut ports = Vec::new();
    for _ in 0..2 {
        // Free now; nginx's ports must be written into its configuration.
        ports.push(
            TcpListener::bind("127.0.0.1:0")
                .await
                .context("finding a free port")?
                .local_addr()?,
        );
    }
    let (protected, plain) = (ports[0], ports[1]);
    let server = format!("server {adieu};");
    let conf = example
        .replace("server 127.0.0.1:8080;", &server)
        .replace("127.0.0.1:3000", &app.to_string())
        .replace("listen 80;", &format!("listen {protected};"));
    if !(conf.contains(&server) && conf.contains(&app.to_string())) {
        bail!(
            "{} no longer has the addresses this benchmark replaces",
            example_path.display()
        );
    }
    let dir = work.join("nginx");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let d = dir.display();
    std::fs::write(dir.join("adieu.conf"), conf).context("writing nginx's configuration")?;
    // The outer file puts nginx's own files in the working directory and adds the baseline:
    // the same app through the example's upstream, with no `auth_request`. It also lets the
    // generator's connections live for the whole load (nginx closes a client's connection
    // after 1,000 requests by default), for both servers alike.
    let main = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  \
         keepalive_requests 1000000;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         include {d}/adieu.conf;\n\n  server {{\n    listen {plain};\n    server_name {APP_HOST};\n    \
         location / {{\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      \
         proxy_set_header Host $http_host;\n      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n      \
         proxy_pass http://protected_app;\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).context("writing nginx's configuration")?;
    let mut command = Command::new(nginx_binary());
    command
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off; master_process off;"]);
    let (mut nginx, _) = Process::start(command, &[], &dir.join("stderr.log")).await?;
    // Bounded: 10 s for nginx to listen on both ports.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(TcpStream::connect(protected).await.is_ok() && TcpStream::connect(plain).await.is_ok())
    {
        if nginx.exited() || Instant::now() >= deadline {
            nginx.stop().await;
            bail!("nginx did not listen within 10 s; see {d}/stderr.log and {d}/error.log");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((nginx, protected, plain))
}

/// `runs` holds the unprotected then the protected load of each run, with the cores of
/// nginx, Adieu, and the app with the load generator.
pub(crate) fn render(label: &str, nginx: &str, runs: &[Vec<Rate>]) -> Section {
    let ratio = Spread::of(runs.iter().map(|r| r[1].per_sec / r[0].per_sec));
    let body = table(
        &format!(
            "server | unprotected req/s | protected req/s | ratio (target ≥ {TARGET:.2}) | unprotected p50 / p99 ms | protected p50 / p99 ms | errors | verdict"
        ),
        [vec![
            label.to_owned(),
            col(runs, |r| r[0].per_sec, 0),
            col(runs, |r| r[1].per_sec, 0),
            spread(ratio, 2, ""),
            lat(runs, |r| r[0].latency, 2),
            lat(runs, |r| r[1].latency, 2),
            runs.iter()
                .flatten()
                .map(|r| r.errors)
                .sum::<u64>()
                .to_string(),
            ratio
                .map_or("not measured", |s| {
                    crate::report::verdict(s.median >= TARGET)
                })
                .to_owned(),
        ]],
    );
    // What a request costs each process, with and without protection: what the difference
    // between the two rates is made of.
    let us = |load: usize, p: usize| {
        Spread::of(
            runs.iter()
                .map(|r| r[load].cores[p] / r[load].per_sec * 1e6),
        )
        .map(|s| s.median)
    };
    let us_all = |load: usize| (0..3).map(|p| us(load, p)).sum::<Option<f64>>();
    let f = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1}"));
    let cpu = table(
        "load | nginx | Adieu | app and load generator | all | cores busy",
        [("unprotected", 0), ("protected", 1)].map(|(name, load)| {
            let busy = col(runs, |r| r[load].cores.iter().sum(), 2);
            vec![
                name.to_owned(),
                f(us(load, 0)),
                f(us(load, 1)),
                f(us(load, 2)),
                f(us_all(load)),
                busy,
            ]
        }),
    );
    let explained = match (us_all(0), us_all(1), us(0, 0), us(1, 0)) {
        (Some(plain), Some(prot), Some(nginx_plain), Some(nginx_prot)) => format!(
            "\nWhat the difference is made of: a protected request costs the machine {:.1} µs \
             more CPU than an unprotected one ({prot:.1} against {plain:.1}). Of that, nginx's \
             `auth_request` subrequest (a second HTTP hop, over a kept-alive connection) is \
             {:.1} µs and Adieu's whole answer (HTTP, the token's hash, the cache lookup) is \
             {:.1} µs; the rest is the app and generator process, whose work is the same in \
             both loads. The rate of a closed loop that keeps the cores nearly busy follows the \
             CPU per request, so the ratio comes out near the CPU figures' {plain:.1} ÷ \
             {prot:.1} = {:.2}. Even a check that cost Adieu nothing would leave nginx's second \
             hop, so protection behind nginx cannot be free.\n",
            prot - plain,
            nginx_prot - nginx_plain,
            us(1, 1).unwrap_or(f64::NAN),
            plain / prot
        ),
        _ => String::new(),
    };
    Section {
        heading: "## 6. Protecting an app behind nginx: with Adieu versus without".into(),
        body: format!(
            "One node (SQLite, cache on), a tiny app of the benchmark's own that answers 200 \
             \"ok\" to everything, and nginx ({nginx}) in one process running \
             `examples/nginx/adieu.conf` with only its ports changed. *Protected*: `GET /` with \
             `Host: app.example.com` and a bearer token of a real login, through the example's \
             server, which asks Adieu (`auth_request`) before every request. *Unprotected*: the \
             same request without the token through a server block the benchmark adds beside \
             the example, which proxies to the same app with no `auth_request`. Same load as \
             measurement 1, one after the other, alternating which goes first. The app and the \
             load generator share this process; nginx, the node and the generator share the \
             machine's cores.\n\n{body}\nCPU per answered request, in microseconds (median of \
             the runs; the three processes' user and system time over the load, divided by the \
             requests answered):\n\n{cpu}{explained}\n"
        ),
        targets: vec![ratio_target(
            &format!("app behind nginx and Adieu ÷ behind nginx alone, req/s, {label}"),
            TARGET,
            ratio,
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_ratio_is_judged_and_the_cpu_per_request_explained() {
        let load = |per_sec, cores| Rate {
            per_sec,
            cores: vec![cores; 3],
            ..Rate::default()
        };
        let runs: Vec<_> = [500.0, 700.0, 650.0]
            .map(|p| vec![load(1000.0, 0.01), load(p, 0.02)])
            .into();
        let s = render("SQLite, cache on", "nginx/1.22.1", &runs);
        assert!(s.body.contains("| 0.65 (0.50–0.70) |"), "{}", s.body);
        assert!(s.body.contains("| 0 | **PASS** |"), "{}", s.body);
        assert!(
            s.body
                .contains("| unprotected | 10.0 | 10.0 | 10.0 | 30.0 | 0.03 (0.03–0.03) |"),
            "{}",
            s.body
        );
        assert_eq!(
            s.targets,
            [
                "| app behind nginx and Adieu ÷ behind nginx alone, req/s, SQLite, cache on | ≥ 0.60 | 0.65 (0.50–0.70) | **PASS** |"
            ]
        );
    }
}
