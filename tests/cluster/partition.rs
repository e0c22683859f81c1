//! Partitions between real hosts: nodes in network namespaces of their own, PostgreSQL (the
//! test's own instance) in another, one node's link cut, the database restarted under load.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;

use crate::netns::Network;
use crate::node::{Api, Node, cache_hits};

/// Only against a hang: nothing here asserts how long anything took.
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, work)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after {HANG_GUARD:?}"))
}

async fn serving(api: &Api, node: &Node) -> serde_json::Value {
    api.wait_for_health(node, HANG_GUARD, |s, h| {
        s == StatusCode::OK && h["cache"] == "serving"
    })
    .await
}

/// Three nodes, one per namespace, each with its cache serving.
async fn three_nodes(net: &Network, api: &Api) -> [Node; 3] {
    let url = net.database_url();
    let (a, b, c) = tokio::join!(
        Node::start_on(net.host(0), &url, &[]),
        Node::start_on(net.host(1), &url, &[]),
        Node::start_on(net.host(2), &url, &[])
    );
    for node in [&a, &b, &c] {
        serving(api, node).await;
    }
    [a, b, c]
}

/// Checks `access` on `node` twice: the first check fills its cache, the second is
/// answered from it.
async fn cached(api: &Api, node: &Node, access: &str) {
    for _ in 0..2 {
        assert_eq!(api.me(node, access).await, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and iproute2 (ip netns): set ADIEU_TEST_NETNS=1 and ADIEU_TEST_PG_BIN"]
async fn a_node_cut_off_from_the_database_accepts_no_revoked_token_and_serves_again_once_back() {
    let net = Network::create(3);
    let api = Api::new();
    let [a, b, c] = three_nodes(&net, &api).await;
    api.register(&a, "alice").await;
    api.register(&a, "bob").await;
    let alice = api.login(&a, "alice").await;
    let bob = [api.login(&a, "bob").await, api.login(&b, "bob").await];
    for login in [&alice, &bob[0], &bob[1]] {
        cached(&api, &b, &login.access).await;
        cached(&api, &c, &login.access).await;
    }

    net.cut(2);
    // C can neither acknowledge nor renew its lease: A's logout answers once C's lease has
    // lapsed, while C is still cut off.
    let status = within(
        "logout with C cut off",
        api.post(&a, "/api/logout", &alice.access),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, health) = api.health(&c).await;
    assert_eq!(
        health["cache"], "resyncing",
        "the logout answered while the cut-off node still served from memory: {health}"
    );
    let status = api.post(&a, "/api/logout/all", &bob[0].access).await;
    assert_eq!(status, StatusCode::OK);

    // B heard every revocation; C, unable to read the database, refuses without a 200.
    for login in [&alice, &bob[0], &bob[1]] {
        assert_eq!(api.me(&b, &login.access).await, StatusCode::UNAUTHORIZED);
    }
    let (x, y, z) = tokio::join!(
        api.me(&c, &alice.access),
        api.me(&c, &bob[0].access),
        api.me(&c, &bob[1].access)
    );
    for status in [x, y, z] {
        // 500 in practice: its database pool times out.
        assert!(
            matches!(
                status,
                StatusCode::UNAUTHORIZED
                    | StatusCode::INTERNAL_SERVER_ERROR
                    | StatusCode::SERVICE_UNAVAILABLE
            ),
            "the cut-off node answered {status} for a revoked token"
        );
    }
    // And it tells its operators that it has lost the database.
    api.wait_for_health(&c, HANG_GUARD, |s, h| {
        s == StatusCode::SERVICE_UNAVAILABLE && h["database"] == "down"
    })
    .await;

    net.restore(2);
    let before = cache_hits(&serving(&api, &c).await);
    for login in [&alice, &bob[0], &bob[1]] {
        assert_eq!(api.me(&c, &login.access).await, StatusCode::UNAUTHORIZED);
    }
    // It serves from memory again, and hears the next logout.
    let fresh = api.login(&a, "alice").await;
    cached(&api, &c, &fresh.access).await;
    let (_, after) = api.health(&c).await;
    assert!(
        cache_hits(&after) > before,
        "C does not serve from its cache again: {after}"
    );
    assert_eq!(
        api.post(&a, "/api/logout", &fresh.access).await,
        StatusCode::OK
    );
    assert_eq!(api.me(&c, &fresh.access).await, StatusCode::UNAUTHORIZED);
}

/// What the load saw: the sessions whose logout answered 200, and any 200 given for one of
/// them afterwards.
#[derive(Default)]
struct Ledger {
    revoked: Mutex<Vec<String>>,
    accepted: Mutex<Vec<String>>,
    /// Answers that were neither 200 nor 401: the database was away.
    failures: AtomicUsize,
    stop: AtomicBool,
}

impl Ledger {
    fn revoked(&self) -> usize {
        self.revoked.lock().unwrap().len()
    }

    /// Records a check of a token whose logout has already answered 200.
    fn checked(&self, node: usize, status: StatusCode) {
        match status {
            StatusCode::OK => self
                .accepted
                .lock()
                .unwrap()
                .push(format!("node {node} accepted a revoked token")),
            StatusCode::UNAUTHORIZED => {}
            _ => {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One user's sessions, round after round: log in, get the token cached on every node, log
/// out until the logout answers 200, then check the token on every node.
async fn churn(api: Api, nodes: Arc<[Node; 3]>, ledger: Arc<Ledger>, user: String) {
    let mut round = 0;
    while !ledger.stop.load(Ordering::Relaxed) {
        round += 1;
        let Ok(login) = api.try_login(&nodes[round % 3], &user).await else {
            ledger.failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        for node in nodes.iter() {
            for _ in 0..2 {
                api.me(node, &login.access).await;
            }
        }
        let revoker = &nodes[(round + 1) % 3];
        while api.post(revoker, "/api/logout", &login.access).await != StatusCode::OK {
            ledger.failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ledger.revoked.lock().unwrap().push(login.access.clone());
        for (i, node) in nodes.iter().enumerate() {
            ledger.checked(i, api.me(node, &login.access).await);
        }
    }
}

/// Checks the tokens already revoked, one node after the other, for as long as the load runs.
async fn recheck(api: Api, nodes: Arc<[Node; 3]>, ledger: Arc<Ledger>) {
    let mut k = 0;
    while !ledger.stop.load(Ordering::Relaxed) {
        k += 1;
        let token = {
            let revoked = ledger.revoked.lock().unwrap();
            if revoked.is_empty() {
                None
            } else {
                Some(revoked[k % revoked.len()].clone())
            }
        };
        match token {
            Some(token) => ledger.checked(k % 3, api.me(&nodes[k % 3], &token).await),
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn until(what: &str, check: impl Fn() -> bool) {
    within(what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and iproute2 (ip netns): set ADIEU_TEST_NETNS=1 and ADIEU_TEST_PG_BIN"]
async fn a_database_restarted_under_load_lets_no_revoked_token_through_and_the_nodes_recover() {
    let mut net = Network::create(3);
    let api = Api::new();
    let nodes = Arc::new(three_nodes(&net, &api).await);
    for user in ["u0", "u1", "spare"] {
        api.register(&nodes[0], user).await;
    }
    let ledger = Arc::new(Ledger::default());
    let load = [
        tokio::spawn(churn(
            api.clone(),
            nodes.clone(),
            ledger.clone(),
            "u0".into(),
        )),
        tokio::spawn(churn(
            api.clone(),
            nodes.clone(),
            ledger.clone(),
            "u1".into(),
        )),
        tokio::spawn(recheck(api.clone(), nodes.clone(), ledger.clone())),
    ];
    until("10 logouts before the restart", || ledger.revoked() >= 10).await;
    // A session that lives across the restart, cached on every node.
    let spare = api.login(&nodes[0], "spare").await;
    for node in nodes.iter() {
        cached(&api, node, &spare.access).await;
    }

    tokio::task::block_in_place(|| net.stop_postgres());
    for node in nodes.iter() {
        api.wait_for_health(node, HANG_GUARD, |_, h| h["cache"] != "serving")
            .await;
    }
    // With the database away nothing can be revoked: no logout may answer 200.
    let status = api.post(&nodes[1], "/api/logout", &spare.access).await;
    assert!(
        status.is_server_error(),
        "a logout with the database stopped answered {status}"
    );
    let revoked_while_down = ledger.revoked();
    tokio::task::block_in_place(|| net.start_postgres());

    // The nodes come back by themselves, and the load goes on through them.
    for node in nodes.iter() {
        serving(&api, node).await;
    }
    until("10 logouts after the restart", || {
        ledger.revoked() >= revoked_while_down + 10
    })
    .await;
    ledger.stop.store(true, Ordering::Relaxed);
    for task in load {
        within("the load to stop", task).await.unwrap();
    }

    let accepted = ledger.accepted.lock().unwrap().clone();
    assert!(accepted.is_empty(), "revoked tokens accepted: {accepted:?}");
    assert!(
        ledger.failures.load(Ordering::Relaxed) > 0,
        "the load never met the stopped database"
    );
    // Every revoked token, on every node, now that all is well: a plain refusal.
    let revoked = ledger.revoked.lock().unwrap().clone();
    for token in &revoked {
        for node in nodes.iter() {
            assert_eq!(api.me(node, token).await, StatusCode::UNAUTHORIZED);
        }
    }
    // The session that lived across the restart is still live everywhere, and a logout now
    // reaches every node.
    for node in nodes.iter() {
        assert_eq!(api.me(node, &spare.access).await, StatusCode::OK);
    }
    assert_eq!(
        api.post(&nodes[1], "/api/logout", &spare.access).await,
        StatusCode::OK
    );
    for node in nodes.iter() {
        assert_eq!(api.me(node, &spare.access).await, StatusCode::UNAUTHORIZED);
    }
}
