//! A network of our own for the partition tests: each node in a network namespace of its
//! own, PostgreSQL (an instance of the test's own) in another, links that can be cut.
//!
//! ```text
//!  root namespace (the test)       adieu-<run>-db                adieu-<run>-n<i>
//!                                  PostgreSQL 10.A.B.1:5432
//!                                  bridge a<run>br 10.A.B.1/26
//!                                    port a<run>p<i> ──────────── a<run>d<i> 10.A.B.(10+i)/26
//!  a<run>r<i> 10.A.B.(65+4i)/30 ───────────────────────────────── a<run>c<i> 10.A.B.(66+4i)/30
//!                                                                 adieu serve on .(66+4i)
//! ```
//!
//! `<run>` is the test process's pid and the network's number in that process, so that
//! tests running at once, in one process or several, never share a name.
//!
//! The test reaches each node over its client link, and the node reaches PostgreSQL over
//! its database link, the only route it has to it. Cutting a node's port on the bridge
//! silences its database traffic both ways while the test can still ask it questions, as a
//! partition between hosts does to a node that its clients can still reach. No namespace
//! has a default route and nothing forwards, so no packet leaves the namespaces made here.
//! Everything is removed on drop, when a test fails too.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// Set to `1` to run the tests that build network namespaces (root and iproute2 needed).
pub(crate) const NETNS_VAR: &str = "ADIEU_TEST_NETNS";
/// The directory holding PostgreSQL's `initdb` and `pg_ctl`.
pub(crate) const PG_BIN_VAR: &str = "ADIEU_TEST_PG_BIN";
/// PostgreSQL refuses to run as root; its files and processes belong to this user.
const PG_USER: &str = "postgres";
/// `setpriv`'s arguments that run a program as `PG_USER` (no fork, unlike `runuser`).
const AS_PG_USER: [&str; 3] = ["--reuid=postgres", "--regid=postgres", "--init-groups"];

/// Networks made so far by this process.
static NETWORKS: AtomicU32 = AtomicU32::new(0);
/// Held from choosing a subnet until its addresses are in place.
static CHOOSING: Mutex<()> = Mutex::new(());

/// The namespaces, links and PostgreSQL instance of one test.
pub(crate) struct Network {
    /// `<pid>-<number>`, in every name this network uses.
    run: String,
    /// `a<run>`, the start of its interfaces' names.
    prefix: String,
    /// `10.A.B`: the /24 this run took.
    subnet: String,
    nodes: usize,
    /// Namespaces made so far, deleted on drop.
    namespaces: Vec<String>,
    pg_bin: PathBuf,
    /// PostgreSQL's data directory, socket and log; owned by `postgres`.
    dir: tempfile::TempDir,
    postgres_started: bool,
}

impl Network {
    /// Builds the namespaces and links for `nodes` nodes and starts PostgreSQL in its own.
    ///
    /// Panics with the reason when the environment cannot: the variables unset, no `ip`,
    /// not root, no PostgreSQL binaries.
    pub(crate) fn create(nodes: usize) -> Self {
        // The /24's plan: database links in .0/26, client links from .64 on in /30s.
        assert!(nodes <= 16, "at most 16 nodes fit the plan");
        if std::env::var(NETNS_VAR).as_deref() != Ok("1") {
            panic!("{NETNS_VAR}=1 must be set to build network namespaces (root and iproute2)");
        }
        let pg_bin = std::env::var_os(PG_BIN_VAR).map(PathBuf::from).unwrap_or_else(|| {
            panic!("{PG_BIN_VAR} must name PostgreSQL's bin directory, e.g. /usr/lib/postgresql/15/bin")
        });
        let (pid, number) = (std::process::id(), NETWORKS.fetch_add(1, Ordering::Relaxed));
        let run_id = format!("{pid}-{number}");
        let dir = tempfile::Builder::new()
            .prefix("adieu-netns-")
            .tempdir()
            .expect("a temporary directory");
        run(Command::new("chown").arg(PG_USER).arg(dir.path()));
        let choosing = CHOOSING.lock().unwrap_or_else(|e| e.into_inner());
        let mut network = Self {
            prefix: format!("a{run_id}"),
            run: run_id,
            subnet: free_subnet(pid.wrapping_mul(16).wrapping_add(number)),
            nodes,
            namespaces: Vec::new(),
            pg_bin,
            dir,
            postgres_started: false,
        };
        network.build();
        drop(choosing);
        network.init_postgres();
        network.start_postgres();
        network
    }

    fn build(&mut self) {
        let (p, net) = (self.prefix.clone(), self.subnet.clone());
        let db = format!("adieu-{}-db", self.run);
        self.add_namespace(&db);
        let bridge = format!("{p}br");
        ip(&["-n", &db, "link", "add", &bridge, "type", "bridge"]);
        let bridge_address = format!("{net}.1/26");
        ip(&["-n", &db, "addr", "add", &bridge_address, "dev", &bridge]);
        ip(&["-n", &db, "link", "set", &bridge, "up"]);
        for i in 0..self.nodes {
            let ns = self.node_namespace(i);
            self.add_namespace(&ns);
            // The database link: the node's end, and its port on the bridge.
            let (end, port) = (format!("{p}d{i}"), format!("{p}p{i}"));
            ip(&[
                "link", "add", "name", &end, "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &db,
            ]);
            ip(&["-n", &db, "link", "set", &port, "master", &bridge]);
            ip(&["-n", &db, "link", "set", &port, "up"]);
            let address = format!("{net}.{}/26", 10 + i);
            ip(&["-n", &ns, "addr", "add", &address, "dev", &end]);
            ip(&["-n", &ns, "link", "set", &end, "up"]);
            // The client link, from the root namespace.
            let (root, client) = (format!("{p}r{i}"), format!("{p}c{i}"));
            ip(&[
                "link", "add", "name", &root, "type", "veth", "peer", "name", &client, "netns", &ns,
            ]);
            let base = 64 + 4 * i;
            let (root_address, client_address) = (
                format!("{net}.{}/30", base + 1),
                format!("{net}.{}/30", base + 2),
            );
            ip(&["addr", "add", &root_address, "dev", &root]);
            ip(&["link", "set", &root, "up"]);
            ip(&["-n", &ns, "addr", "add", &client_address, "dev", &client]);
            ip(&["-n", &ns, "link", "set", &client, "up"]);
        }
    }

    fn add_namespace(&mut self, name: &str) {
        ip(&["netns", "add", name]);
        self.namespaces.push(name.to_owned());
        ip(&["-n", name, "link", "set", "lo", "up"]);
    }

    fn db_namespace(&self) -> &str {
        &self.namespaces[0]
    }

    fn node_namespace(&self, i: usize) -> String {
        format!("adieu-{}-n{i}", self.run)
    }

    /// What a node's `adieu serve` runs under, and the address it listens on.
    pub(crate) fn host(&self, i: usize) -> crate::node::Host {
        assert!(i < self.nodes, "node {i} of {}", self.nodes);
        crate::node::Host {
            prefix: ["ip", "netns", "exec", &self.node_namespace(i)]
                .map(str::to_owned)
                .to_vec(),
            address: format!("{}.{}", self.subnet, 64 + 4 * i + 2),
        }
    }

    /// The URL the nodes reach the test's PostgreSQL at.
    pub(crate) fn database_url(&self) -> String {
        format!("postgres://{PG_USER}@{}.1:5432/postgres", self.subnet)
    }

    /// Cuts node `i` off the database: its port on the bridge goes down, so packets both
    /// ways are lost, with no error sent back.
    pub(crate) fn cut(&self, i: usize) {
        let port = format!("{}p{i}", self.prefix);
        ip(&["-n", self.db_namespace(), "link", "set", &port, "down"]);
    }

    /// Reconnects node `i`.
    pub(crate) fn restore(&self, i: usize) {
        let port = format!("{}p{i}", self.prefix);
        ip(&["-n", self.db_namespace(), "link", "set", &port, "up"]);
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn init_postgres(&self) {
        let data = self.data_dir();
        run(self
            .as_postgres("initdb")
            .args(["--no-sync", "--username", PG_USER, "--auth", "trust", "-D"])
            .arg(&data));
        let subnet = &self.subnet;
        // Only the owner over the socket, and this run's subnet over TCP.
        let hba = format!("local all {PG_USER} trust\nhost all all {subnet}.0/24 trust\n");
        std::fs::write(data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        // Appended settings win over initdb's. The socket goes into our directory, away from
        // the machine's own server; durability is not what these tests are about.
        let socket = self.dir.path().display();
        let settings = format!(
            "listen_addresses = '{subnet}.1'\nport = 5432\nunix_socket_directories = '{socket}'\n\
             fsync = off\nmax_connections = 200\n"
        );
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str(&settings);
        std::fs::write(&conf, text).expect("write postgresql.conf");
    }

    /// Starts PostgreSQL in its namespace and waits until it accepts connections.
    pub(crate) fn start_postgres(&mut self) {
        let log = self.dir.path().join("postgres.log");
        let mut start = Command::new("ip");
        start
            .args(["netns", "exec", self.db_namespace(), "setpriv"])
            .args(AS_PG_USER)
            .arg(self.pg_bin.join("pg_ctl"))
            .args(["start", "--wait", "--silent", "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log);
        self.postgres_started = true;
        run(&mut start);
    }

    /// Stops PostgreSQL as an operator restarting it would (`-m fast`: sessions are ended,
    /// the server shuts down cleanly).
    pub(crate) fn stop_postgres(&mut self) {
        run(&mut self.pg_ctl_stop("fast"));
        self.postgres_started = false;
    }

    fn pg_ctl_stop(&self, mode: &str) -> Command {
        let mut stop = self.as_postgres("pg_ctl");
        stop.args(["stop", "--wait", "--silent", "-m", mode, "-D"])
            .arg(self.data_dir());
        stop
    }

    fn as_postgres(&self, program: &str) -> Command {
        let mut command = Command::new("setpriv");
        command.args(AS_PG_USER).arg(self.pg_bin.join(program));
        command
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("postgres.log"));
            if let Ok(log) = log {
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                eprintln!("PostgreSQL's log, last lines:");
                for line in tail.iter().rev() {
                    eprintln!("  {line}");
                }
            }
        }
        if self.postgres_started {
            let _ = self.pg_ctl_stop("immediate").output();
        }
        // Deleting one end of a veth pair deletes both: the root namespace is left as it
        // was even if a process still holds a node's namespace.
        for i in 0..self.nodes {
            let root = format!("{}r{i}", self.prefix);
            let _ = Command::new("ip").args(["link", "delete", &root]).output();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "delete", ns]).output();
        }
    }
}

/// A /24 in 10.100.0.0 – 10.199.255.0, the first from `start` on that this machine does not
/// use already.
fn free_subnet(start: u32) -> String {
    let in_use = output(Command::new("ip").args(["-4", "-o", "addr", "show"]))
        + &output(Command::new("ip").args(["-4", "route", "show", "table", "all"]));
    (0..25_600u32)
        .map(|k| start.wrapping_add(k) % 25_600)
        .map(|n| format!("10.{}.{}", 100 + n / 256, n % 256))
        .find(|subnet| !in_use.contains(&format!("{subnet}.")))
        .expect("a free /24 in 10.100.0.0/16 – 10.199.0.0/16")
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
}

/// Runs a set-up command; any failure stops the test with the command and its output.
fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn output(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?} (is iproute2 installed?): {e}"));
    assert!(out.status.success(), "{command:?} failed: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}
