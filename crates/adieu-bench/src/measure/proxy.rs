//! Measurement 6: an app protected by Adieu behind nginx, against the same app unprotected.
//!
//! nginx runs the shipped `examples/nginx/adieu.conf` with only its ports changed, as the
//! forward-auth tests run it, plus one server block of the benchmark's own that proxies to
//! the same app without asking Adieu: the baseline. The difference between the two is what
//! protecting an app costs per request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::{Backend, Ctx, ServerKind, cores_used, stop_all};
use crate::http::{self, Conn, closed_loop_get_at};
use crate::node::{self, Node};
use crate::report::{ProxyCpu, ProxyRow, ProxyRun};
use crate::stats::Latency;

/// The variable that names the nginx binary.
pub(crate) const NGINX_VAR: &str = "ADIEU_BENCH_NGINX";
/// The host the example protects.
pub(crate) const APP_HOST: &str = "app.example.com";

/// The nginx binary to run: `ADIEU_BENCH_NGINX`, or `nginx` on the `PATH`.
pub(crate) fn nginx_binary() -> PathBuf {
    std::env::var_os(NGINX_VAR).map_or_else(|| PathBuf::from("nginx"), PathBuf::from)
}

/// Fails unless the nginx binary runs: a missing nginx must stop the benchmark before it
/// starts, not leave a section silently empty.
pub(crate) async fn check_nginx() -> anyhow::Result<()> {
    let binary = nginx_binary();
    let status = Command::new(&binary)
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .with_context(|| {
            format!(
                "running nginx (`{}`) for the proxy part: install nginx or set {NGINX_VAR} \
                 to its binary",
                binary.display()
            )
        })?;
    if !status.success() {
        bail!("`{} -v` failed: {status}", binary.display());
    }
    Ok(())
}

/// Measurement 6 on one SQLite node with the cache on.
pub(crate) async fn proxy(ctx: &mut Ctx) -> anyhow::Result<ProxyRow> {
    let kind = ServerKind {
        backend: Backend::Sqlite,
        cache: ctx.caps.cache_flag.then_some(true),
    };
    let db = ctx.fresh_database(kind.backend, "proxy").await?;
    let nodes = ctx.start_nodes(&db, kind, "proxy", 1).await?;
    let result = proxy_on(ctx, kind, &nodes[0]).await;
    stop_all(nodes).await;
    result
}

async fn proxy_on(ctx: &mut Ctx, kind: ServerKind, node: &Node) -> anyhow::Result<ProxyRow> {
    let o = ctx.opts.clone();
    let upstream = Upstream::start().await?;
    let nginx = Nginx::start(&ctx.work, node.addr, upstream.addr).await?;
    let result = async {
        let user = "bench-proxy";
        ctx.api.register(node.addr, user).await?;
        let login = ctx.api.login(node.addr, user).await?;
        let tokens = vec![login.access_token.expose().to_owned()];
        check_stack(&nginx, &tokens[0]).await?;
        // Warm-up: connections, the node's cache, nginx.
        closed_loop_get_at(nginx.plain, APP_HOST, "/", &[], o.connections, o.warmup).await?;
        closed_loop_get_at(
            nginx.protected,
            APP_HOST,
            "/",
            &tokens,
            o.connections,
            o.warmup,
        )
        .await?;
        let mut runs = Vec::with_capacity(o.runs);
        for run in 0..o.runs {
            let mut r = ProxyRun::default();
            // Alternate the order, so that a slow drift of the machine does not favour one.
            let order = if run % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for protected in order {
                let (addr, toks): (SocketAddr, &[String]) = if protected {
                    (nginx.protected, &tokens)
                } else {
                    (nginx.plain, &[])
                };
                let before = nginx.cpu_ticks(node);
                let started = Instant::now();
                let res = closed_loop_get_at(addr, APP_HOST, "/", toks, o.connections, o.duration)
                    .await?;
                let cpu = before.until(nginx.cpu_ticks(node), ctx.ticks_per_sec, started.elapsed());
                r.errors += res.not_ok + res.transport_errors;
                if protected {
                    r.protected_per_sec = res.ok_per_sec();
                    r.protected_latency = Latency::of(&res.latencies);
                    r.protected_cpu = cpu;
                } else {
                    r.plain_per_sec = res.ok_per_sec();
                    r.plain_latency = Latency::of(&res.latencies);
                    r.plain_cpu = cpu;
                }
            }
            eprintln!(
                "  {} run {}: unprotected {:.0}/s, protected {:.0}/s, ratio {:.2}",
                kind.label(),
                run + 1,
                r.plain_per_sec,
                r.protected_per_sec,
                r.ratio()
            );
            runs.push(r);
        }
        anyhow::Ok(runs)
    }
    .await;
    nginx.stop().await;
    drop(upstream);
    Ok(ProxyRow {
        label: kind.label(),
        nginx: nginx_version().await,
        runs: result?,
    })
}

/// CPU ticks of the three processes of the stack at one moment.
struct Ticks {
    nginx: Option<u64>,
    adieu: Option<u64>,
    generator: Option<u64>,
}

impl Ticks {
    /// The cores each process used from this reading to `after`.
    fn until(self, after: Ticks, ticks_per_sec: u64, elapsed: Duration) -> ProxyCpu {
        let cores = |b, a| cores_used(b, a, ticks_per_sec, elapsed);
        ProxyCpu {
            nginx: cores(self.nginx, after.nginx),
            adieu: cores(self.adieu, after.adieu),
            generator: cores(self.generator, after.generator),
        }
    }
}

/// One request of each kind before measuring: the protected server must let the token
/// through and refuse a request without one, or the figures would not measure protection.
async fn check_stack(nginx: &Nginx, token: &str) -> anyhow::Result<()> {
    let auth = http::bearer(token);
    let mut conn = Conn::connect(nginx.protected).await?;
    let with = conn.send(http::get_at(APP_HOST, "/", Some(&auth))).await?;
    let without = conn.send(http::get_at(APP_HOST, "/", None)).await?;
    let mut plain = Conn::connect(nginx.plain).await?;
    let baseline = plain.send(http::get_at(APP_HOST, "/", None)).await?;
    if !with.status.is_success() || without.status.is_success() || !baseline.status.is_success() {
        bail!(
            "nginx does not protect the app as expected: with a token {}, without {}, \
             unprotected {}",
            with.status,
            without.status,
            baseline.status
        );
    }
    Ok(())
}

/// `nginx -v`'s answer, for the report.
async fn nginx_version() -> Option<String> {
    let out = Command::new(nginx_binary()).arg("-v").output().await.ok()?;
    // nginx prints its version on stderr.
    let text = String::from_utf8_lossy(&out.stderr);
    Some(text.trim().trim_start_matches("nginx version: ").to_owned())
}

/// The app behind nginx: 200 "ok" to every request, on a free port, stopped when dropped.
struct Upstream {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    async fn start() -> anyhow::Result<Self> {
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
                    let service = hyper::service::service_fn(|_request| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, task })
    }
}

/// nginx in one process, in a directory of the benchmark's working directory.
struct Nginx {
    /// The example's server: every request is asked about at Adieu first.
    protected: SocketAddr,
    /// The benchmark's own server block: straight to the app.
    plain: SocketAddr,
    child: Child,
}

impl Nginx {
    /// Runs `examples/nginx/adieu.conf` in front of `adieu` and `upstream`, with only the
    /// ports changed (as `Proxy::nginx` of the server's tests does), and the baseline
    /// server block beside it.
    async fn start(work: &Path, adieu: SocketAddr, upstream: SocketAddr) -> anyhow::Result<Self> {
        let example_path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nginx/adieu.conf");
        let example = std::fs::read_to_string(&example_path)
            .with_context(|| format!("reading {}", example_path.display()))?;
        let protected = SocketAddr::from(([127, 0, 0, 1], free_port().await?));
        let plain = SocketAddr::from(([127, 0, 0, 1], free_port().await?));
        let server = format!("server {adieu};");
        let conf = example
            .replace("server 127.0.0.1:8080;", &server)
            .replace("127.0.0.1:3000", &upstream.to_string())
            .replace("listen 80;", &format!("listen {protected};"));
        if !(conf.contains(&server) && conf.contains(&upstream.to_string())) {
            bail!(
                "{} no longer has the addresses this benchmark replaces",
                example_path.display()
            );
        }
        let dir = work.join("nginx");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let d = dir.display();
        std::fs::write(dir.join("adieu.conf"), conf).context("writing nginx's configuration")?;
        // The outer file puts nginx's own files in the working directory and adds the
        // baseline: the same app through the example's upstream, with no `auth_request`. It
        // also lets the generator's connections live for the whole load (nginx closes a
        // client's connection after 1,000 requests by default), for both servers alike.
        let main = format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  \
             access_log off;\n  keepalive_requests 1000000;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  \
             scgi_temp_path {d}/scgi;\n  include {d}/adieu.conf;\n\n  \
             server {{\n    listen {plain};\n    server_name {APP_HOST};\n    \
             location / {{\n      proxy_http_version 1.1;\n      \
             proxy_set_header Connection \"\";\n      proxy_set_header Host $http_host;\n      \
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n      \
             proxy_pass http://protected_app;\n    }}\n  }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).context("writing nginx's configuration")?;
        let log =
            std::fs::File::create(dir.join("stderr.log")).context("creating nginx's log file")?;
        let binary = nginx_binary();
        let child = Command::new(&binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            // One process, so that ending it leaves no worker behind.
            .args(["-g", "daemon off; master_process off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting nginx (`{}`)", binary.display()))?;
        let mut nginx = Self {
            protected,
            plain,
            child,
        };
        // Bounded: 10 s for nginx to listen on both ports.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(protected).await.is_ok()
                && TcpStream::connect(plain).await.is_ok()
            {
                return Ok(nginx);
            }
            if let Ok(Some(status)) = nginx.child.try_wait() {
                bail!("nginx exited at start ({status}); see {d}/stderr.log and {d}/error.log");
            }
            if Instant::now() >= deadline {
                nginx.stop().await;
                bail!("nginx did not listen within 10 s; see {d}/error.log");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// CPU used so far by nginx, the node, and this process (the app and the generator).
    fn cpu_ticks(&self, node: &Node) -> Ticks {
        Ticks {
            nginx: self.child.id().and_then(node::cpu_ticks_of),
            adieu: node.cpu_ticks(),
            generator: node::own_cpu_ticks(),
        }
    }

    /// Ends nginx and waits for it, so that no nginx outlives the part.
    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// A port free now, for nginx, whose ports must be written into its configuration.
async fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
