//! Measurement 6: an app protected by Adieu behind nginx, against the same app unprotected.
//!
//! nginx runs the shipped `examples/nginx/adieu.conf` with only its ports changed, as the
//! forward-auth tests run it, plus one server block of the benchmark's own that proxies to the
//! same app without asking Adieu: the baseline (`proxy-nginx.conf`). The difference between the
//! two is what protecting an app costs per request.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hyper::header::{HOST, HeaderValue};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

use super::prelude::*;
use super::ratio_table;
use crate::http::Req;

/// How its row of the targets table begins.
const ROW: &str = "app behind nginx and Adieu ÷ behind nginx alone, req/s";

/// A GET of the app, through nginx.
fn get_app(auth: Option<&HeaderValue>) -> Req {
    let mut r = request("GET /", auth, None);
    r.headers_mut()
        .insert(HOST, HeaderValue::from_static("app.example.com"));
    r
}

/// The nginx binary to run: `ADIEU_BENCH_NGINX`, or `nginx` on the `PATH`.
fn nginx_binary() -> PathBuf {
    std::env::var_os("ADIEU_BENCH_NGINX").map_or("nginx".into(), PathBuf::from)
}

/// `nginx -v`'s answer, or why nginx does not run: a missing nginx must stop the benchmark
/// before it starts, not leave a section silently empty.
pub(crate) async fn nginx_version() -> anyhow::Result<String> {
    let binary = nginx_binary();
    let out = Command::new(&binary).arg("-v").output().await;
    let hint = "install nginx or set ADIEU_BENCH_NGINX to its binary";
    let out = out.with_context(|| format!("running `{}`: {hint}", binary.display()))?;
    if !out.status.success() {
        bail!("`{} -v` failed: {}", binary.display(), out.status);
    }
    // nginx prints its version on stderr.
    let version = String::from_utf8_lossy(&out.stderr);
    Ok(version
        .trim()
        .trim_start_matches("nginx version: ")
        .to_owned())
}

/// On one SQLite node with the cache on.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Section> {
    let kind = Kind(false, Some(true));
    let rows = ctx.each(vec![(kind, 1)], async |kind, _, nodes| {
        Ok((kind.label(), on(ctx, kind, &nodes[0]).await?))
    });
    let rows = rows.await?;
    let (body, targets) = ratio_table(["unprotected", "protected"], 0.6, ROW, &rows);
    let heading = "## 6. Protecting an app behind nginx: with Adieu versus without";
    let body = render(&nginx_version().await?, &body, &rows[0].1);
    Ok(Section::new(heading, body, targets))
}

async fn on(ctx: &Ctx, kind: Kind, node: &Process) -> anyhow::Result<Vec<Vec<Rate>>> {
    // The app: the benchmark's hello world, which answers 200 to `GET /`.
    let app = super::hello(&ctx.file("-app.log")).await?;
    let (nginx, protected, plain) = nginx(&ctx.work, node.addr(), app.addr()).await?;
    let result = async {
        let auth = bearer(&ctx.real_tokens(node, "bench-proxy", 1).await?[0]);
        // One request of each kind first: the protected server must let the token through and
        // refuse a request without one, or the figures would not measure protection.
        let (mut conn, mut base) = (Conn::open(protected).await?, Conn::open(plain).await?);
        let with = conn.send(get_app(Some(&auth))).await?.status();
        let without = conn.send(get_app(None)).await?.status();
        let baseline = base.send(get_app(None)).await?.status();
        if !with.is_success() || without.is_success() || !baseline.is_success() {
            let statuses =
                format!("with a token {with}, without {without}, unprotected {baseline}");
            bail!("nginx does not protect the app as expected: {statuses}");
        }
        let with: MakeRequest = Arc::new(move |_| get_app(Some(&auth)));
        let targets = [
            ("unprotected", plain, Arc::new(|_| get_app(None)) as _),
            ("protected", protected, with),
        ];
        let app_and_self = || Some(app.ticks()? + adieu_harness::procfs::ticks("self")?);
        let ticks = || vec![nginx.ticks(), node.ticks(), app_and_self()];
        compare(ctx, &kind.label(), &targets, ticks).await
    };
    let result = result.await;
    nginx.stop().await;
    app.stop().await;
    result
}

/// nginx in one process (so that ending it leaves no worker behind), running
/// `examples/nginx/adieu.conf` in front of `adieu` and `app` with only the ports changed, and
/// the baseline server block beside it. Returns it and its protected and plain addresses.
async fn nginx(
    work: &Path,
    adieu: SocketAddr,
    app: SocketAddr,
) -> anyhow::Result<(Process, SocketAddr, SocketAddr)> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nginx/adieu.conf");
    let conf = std::fs::read_to_string(&example).context(example.display().to_string())?;
    // Free now; nginx's ports must be written into its configuration.
    let free = async || TcpListener::bind("127.0.0.1:0").await?.local_addr();
    let (protected, plain) = (free().await?, free().await?);
    let (server, app) = (format!("server {adieu};"), app.to_string());
    let conf = conf.replace("server 127.0.0.1:8080;", &server);
    let conf = conf.replace("127.0.0.1:3000", &app);
    let conf = conf.replace("listen 80;", &format!("listen {protected};"));
    if !(conf.contains(&server) && conf.contains(&app)) {
        bail!(
            "{} no longer has the addresses it replaces",
            example.display()
        );
    }
    let dir = work.join("nginx");
    std::fs::create_dir_all(&dir)?;
    let d = dir.display().to_string();
    let main = include_str!("proxy-nginx.conf").replace("DIR", &d);
    std::fs::write(dir.join("adieu.conf"), conf)?;
    std::fs::write(
        dir.join("nginx.conf"),
        main.replace("PLAIN", &plain.to_string()),
    )?;
    let mut cmd = Command::new(nginx_binary());
    cmd.arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"));
    cmd.args(["-g", "daemon off; master_process off;"]);
    let mut nginx = Process::start(cmd, &[], &dir.join("stderr.log")).await?;
    // Bounded: 10 s for nginx to listen on both ports.
    let deadline = Instant::now() + Duration::from_secs(10);
    let listening = async |a| TcpStream::connect(a).await.is_ok();
    while !(listening(protected).await && listening(plain).await) {
        if nginx.exited() || Instant::now() >= deadline {
            nginx.stop().await;
            bail!("nginx did not listen within 10 s; see {d}/stderr.log and {d}/error.log");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((nginx, protected, plain))
}

/// The section's text around the comparison `table`; `runs` holds the unprotected then the
/// protected load of each run, with the cores of nginx, Adieu, and the app with the load
/// generator.
fn render(nginx: &str, table_: &str, runs: &[Vec<Rate>]) -> String {
    // What a request costs each process (µs), with and without protection: what the
    // difference between the two rates is made of.
    let us = |load: usize, p: usize| {
        let per_request = runs
            .iter()
            .map(|r| r[load].cores[p] / r[load].per_sec * 1e6);
        Spread::of(per_request).map(|s| s.median)
    };
    let all = |load: usize| (0..3).map(|p| us(load, p)).sum::<Option<f64>>();
    let f = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1}"));
    let cpu = table(
        "load | nginx | Adieu | app and load generator | all | cores busy",
        [("unprotected", 0), ("protected", 1)].map(|(name, load)| {
            let mut row = vec![name.to_owned()];
            row.extend([0, 1, 2].map(|p| f(us(load, p))));
            row.extend([f(all(load)), col(runs, |r| r[load].cores.iter().sum(), 2)]);
            row
        }),
    );
    let explained = match (all(0), all(1), us(0, 0), us(1, 0), us(1, 1)) {
        (Some(plain), Some(prot), Some(nginx_plain), Some(nginx_prot), Some(adieu)) => format!(
            "\nWhat the difference is made of: a protected request costs the machine {:.1} µs \
             more CPU than an unprotected one ({prot:.1} against {plain:.1}). Of that, nginx's \
             `auth_request` subrequest (a second HTTP hop, over a kept-alive connection) is \
             {:.1} µs and Adieu's whole answer (HTTP, the token's hash, the cache lookup) is \
             {adieu:.1} µs; the rest is the app and the load generator, whose work is the same \
             in both loads. The rate of a closed loop that keeps the cores nearly busy follows the \
             CPU per request, so the ratio comes out near the CPU figures' {plain:.1} ÷ \
             {prot:.1} = {:.2}. Even a check that cost Adieu nothing would leave nginx's second \
             hop, so protection behind nginx cannot be free.\n",
            prot - plain,
            nginx_prot - nginx_plain,
            plain / prot
        ),
        _ => String::new(),
    };
    format!(
        "One node (SQLite, cache on), the app (the benchmark's hello world, which answers 200 \
         to `GET /`), and nginx ({nginx}) in one process running `examples/nginx/adieu.conf` \
         with only its ports changed. *Protected*: `GET /` with `Host: app.example.com` and a \
         bearer token of a real login, through the example's server, which asks Adieu \
         (`auth_request`) before every request. *Unprotected*: the same request without the \
         token through a server block the benchmark adds beside the example, which proxies to \
         the same app with no `auth_request`. Same load as measurement 1, one after the other, \
         alternating which goes first. nginx, the node, the app and the generator share \
         the machine's cores.\n\n{table_}\nCPU per \
         answered request, in microseconds (median of the runs; the three processes' user and \
         system time over the load, divided by the requests answered):\n\n{cpu}{explained}\n"
    )
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
        let runs = [500.0, 700.0, 650.0].map(|p| vec![load(1000.0, 0.01), load(p, 0.02)]);
        let rows = [("SQLite, cache on".to_owned(), runs.to_vec())];
        let (t, targets) = ratio_table(["unprotected", "protected"], 0.6, ROW, &rows);
        assert!(
            t.contains("| 0.65 (0.50–0.70) | – / – | – / – | 0 | **PASS** |"),
            "{t}"
        );
        assert_eq!(targets[0][1..], ["≥ 0.60", "0.65 (0.50–0.70)", "**PASS**"]);
        let body = render("nginx/1.22.1", &t, &runs);
        let cpu = "| unprotected | 10.0 | 10.0 | 10.0 | 30.0 | 0.03 (0.03–0.03) |";
        assert!(body.contains(cpu), "{body}");
        assert!(
            body.contains("more CPU than an unprotected one (92.3 against 30.0)"),
            "{body}"
        );
    }
}
