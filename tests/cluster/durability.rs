//! A logout's 200 is written to the client only after its revocation is on stable
//! storage, read from the server's own system calls under strace.
//!
//! - **SQLite** (WAL, `synchronous=FULL`): every write to the database or its WAL made
//!   between reading the logout request and writing its answer was followed by an
//!   `fsync`/`fdatasync` of that file, which returned before the answer's first byte was
//!   written. `.ci/durability-mutant.sh` builds the server with the test-only
//!   `durability-mutant` feature (`synchronous=OFF`) and requires this test to fail.
//! - **PostgreSQL**: the revoking transaction's `COMMIT` was sent on its database
//!   connection and the server's reply to it was read before the answer's first byte was
//!   written. What that reply promises is PostgreSQL's business: with the default
//!   `synchronous_commit = on` the commit's WAL record is flushed before the reply; an
//!   operator who lowers it (or runs without `fsync`) gives that up for every client.
//!
//! The logout goes over a connection of its own, so that its socket, named in the trace
//! by the client's port, tells the logout's request and answer from everything else the
//! server does. The server is stopped before the trace is read, so strace has written it
//! all.
//!
//! `tests/cluster/restart.rs` (kill -9, restart) cannot tell a synced commit from one in
//! the page cache; this module can.

use std::path::Path;
use std::time::Duration;

use adieu_store::test_support::TempDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::node::{Api, Node};
use crate::strace::{self, Call};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs strace: set ADIEU_TEST_STRACE"]
async fn a_logout_answers_only_after_sqlite_has_synced_the_revocation() {
    let dir = tempfile::tempdir().unwrap();
    // strace names files by their real path.
    let dir_path = std::fs::canonicalize(dir.path()).unwrap();
    let database = dir_path.join("adieu.db");
    let log = dir_path.join("strace.log");
    let url = format!("sqlite://{}", database.display());
    let traced = traced_logout(&url, &log).await;
    let result = revocation_synced_before_answer(&traced.calls, &traced.client, &database);
    if let Err(why) = result {
        panic!("{why}\n(strace log kept: {})", kept(dir, &log));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs strace and PostgreSQL: set ADIEU_TEST_STRACE and ADIEU_TEST_POSTGRES_URL"]
async fn a_logout_answers_only_after_postgres_has_answered_its_commit() {
    let db = TempDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::canonicalize(dir.path())
        .unwrap()
        .join("strace.log");
    let traced = traced_logout(db.url(), &log).await;
    let result = revocation_committed_before_answer(
        &traced.calls,
        &traced.client,
        &database_peer(db.url()),
        &traced.session_id,
    );
    if let Err(why) = result {
        panic!("{why}\n(strace log kept: {})", kept(dir, &log));
    }
}

/// Keeps a failed test's directory, for its trace to be read.
fn kept(dir: tempfile::TempDir, log: &Path) -> String {
    let _ = dir.keep();
    log.display().to_string()
}

/// What a traced logout left: the server's calls, the client's address on the logout's
/// connection, and the session it ended.
struct Traced {
    calls: Vec<Call>,
    client: String,
    session_id: String,
}

/// Starts a node under strace, registers and logs in, logs out on a connection of its
/// own, stops the node and reads the trace.
async fn traced_logout(database_url: &str, log: &Path) -> Traced {
    let wrapper = strace::wrapper(&strace::strace(), log);
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let api = Api::new();
    let mut node = Node::start_wrapped(&wrapper, database_url, &[]).await;
    api.register(&node, "alice").await;
    let login = api.login(&node, "alice").await;
    let (client, answer) = logout_on_its_own_connection(&node, &login.access).await;
    assert!(
        answer.starts_with("HTTP/1.1 200 OK\r\n"),
        "the logout was not answered with a 200: {answer:?}"
    );
    node.stop().await;
    Traced {
        calls: strace::read(log),
        client,
        session_id: login.session_id,
    }
}

/// `POST /api/logout` on a new connection, closed after the answer: the client's address
/// (`127.0.0.1:PORT`, the peer the server's socket names) and the answer as read.
async fn logout_on_its_own_connection(node: &Node, access: &str) -> (String, String) {
    let addr = node.url.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let client = stream.local_addr().unwrap().to_string();
    let request = format!(
        "POST /api/logout HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {access}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    // Only a guard against a hang: strace makes the server slow.
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_string(&mut answer))
        .await
        .expect("the logout answers")
        .unwrap();
    (client, answer)
}

/// The PostgreSQL server's `host:port` as the node's sockets name it.
fn database_peer(url: &str) -> String {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let authority = authority.split(['/', '?']).next().unwrap();
    let authority = authority.replace("localhost", "127.0.0.1");
    if authority.contains(':') {
        authority
    } else {
        format!("{authority}:5432")
    }
}

/// The read that returned the logout request (the only one the trace holds, found by its
/// request line), which must be on the client's connection, and the first write on that
/// descriptor after it, which must be the 200's status line.
fn logout_exchange<'a>(calls: &'a [Call], client: &str) -> Result<(&'a Call, &'a Call), String> {
    let request = calls
        .iter()
        .find(|c| c.is_read() && c.succeeded() && c.data().starts_with("POST /api/logout "))
        .ok_or("no read of the logout request in the trace")?;
    if !request.on_connection_to(client) {
        return Err(format!(
            "the logout request was read (line {}) from {:?}, not from the client at {client}",
            request.returned, request.fd
        ));
    }
    let answer = calls
        .iter()
        .filter(|c| c.began > request.returned && c.is_write())
        .filter(|c| c.fd_number == request.fd_number)
        .min_by_key(|c| c.began)
        .ok_or_else(|| format!("no answer written on the connection from {client}"))?;
    if !answer.data().starts_with("HTTP/1.1 200 OK\\r\\n") {
        return Err(format!(
            "the first write to the client (line {}) is not a 200's status line: {:?}",
            answer.began,
            answer.data()
        ));
    }
    Ok((request, answer))
}

/// Every write to the database's files between reading the request and writing the
/// answer was followed, before the answer, by a successful sync of that file; and there
/// was at least one such write (the revocation itself).
fn revocation_synced_before_answer(
    calls: &[Call],
    client: &str,
    database: &Path,
) -> Result<(), String> {
    let (request, answer) = logout_exchange(calls, client)?;
    let database = database.to_str().unwrap();
    let files = [
        database.to_owned(),
        format!("{database}-wal"),
        format!("{database}-journal"),
    ];
    let of_database = |c: &Call| c.fd.as_ref().is_some_and(|fd| files.contains(fd));
    let writes: Vec<&Call> = calls
        .iter()
        .filter(|c| c.began > request.returned && c.began < answer.began)
        .filter(|c| c.is_write() && c.succeeded() && of_database(c))
        .collect();
    if writes.is_empty() {
        return Err(format!(
            "nothing was written to {database} or its WAL between reading the logout (line \
             {}) and writing its 200 (line {}): the revocation was not stored while the \
             client waited",
            request.returned, answer.began
        ));
    }
    for file in &files {
        let Some(last) = writes
            .iter()
            .filter(|w| w.fd.as_ref() == Some(file))
            .max_by_key(|w| w.returned)
        else {
            continue;
        };
        let synced = calls.iter().any(|c| {
            c.is_sync()
                && c.result == Some(0)
                && c.fd.as_ref() == Some(file)
                && c.began > last.returned
                && c.returned < answer.began
        });
        if !synced {
            return Err(format!(
                "the revocation's write to {file} (line {}) was not synced before the 200 was \
                 written (line {})",
                last.returned, answer.began
            ));
        }
    }
    Ok(())
}

/// After the request was read, the first statement sent to the database that names the
/// session opens the revoking transaction; the next `COMMIT` on that connection must have
/// been sent, and its reply read, before the answer's first byte was written.
fn revocation_committed_before_answer(
    calls: &[Call],
    client: &str,
    database: &str,
    session_id: &str,
) -> Result<(), String> {
    let (request, answer) = logout_exchange(calls, client)?;
    let revoke = calls
        .iter()
        .filter(|c| c.began > request.returned && c.is_write() && c.on_connection_to(database))
        .filter(|c| c.data().contains(session_id))
        .min_by_key(|c| c.began)
        .ok_or_else(|| {
            format!("no statement naming session {session_id} was sent to {database}")
        })?;
    let on_its_connection = |c: &&Call| c.fd == revoke.fd;
    let end = calls
        .iter()
        .filter(on_its_connection)
        .filter(|c| c.began > revoke.returned && c.is_write())
        .filter(|c| c.data().contains("COMMIT") || c.data().contains("ROLLBACK"))
        .min_by_key(|c| c.began)
        .ok_or_else(|| {
            format!(
                "the revoking transaction (its statement at line {}) was never committed, yet \
                 the 200 was written (line {})",
                revoke.began, answer.began
            )
        })?;
    if !end.data().contains("COMMIT") {
        return Err(format!(
            "the revoking transaction was rolled back (line {})",
            end.began
        ));
    }
    let reply = calls
        .iter()
        .filter(on_its_connection)
        .filter(|c| c.began > end.returned && c.is_read() && c.succeeded())
        .filter(|c| c.data().contains("COMMIT"))
        .min_by_key(|c| c.began)
        .ok_or_else(|| {
            format!(
                "the reply to the COMMIT of line {} was never read",
                end.began
            )
        })?;
    if end.returned >= answer.began {
        return Err(format!(
            "the COMMIT (line {}) was sent after the 200 began (line {})",
            end.returned, answer.began
        ));
    }
    if reply.returned >= answer.began {
        return Err(format!(
            "the COMMIT's reply (line {}) was read after the 200 began (line {})",
            reply.returned, answer.began
        ));
    }
    Ok(())
}

// The checks themselves, on made-up traces: each order they must refuse.

#[cfg(test)]
const CLIENT: &str = "127.0.0.1:9";

/// A trace of a logout on SQLite: `middle` between the request's read and the answer.
#[cfg(test)]
fn sqlite_trace(middle: &str) -> Vec<Call> {
    strace::parse(&format!(
        "1 00:00:00.1 recvfrom(18<TCP:[127.0.0.1:8->127.0.0.1:9]>, \"POST /api/logout HTTP/1.1\\r\\n\"..., 8192, 0, NULL, NULL) = 166\n\
         {middle}\
         1 00:00:00.9 sendto(18<TCP:[127.0.0.1:8->127.0.0.1:9]>, \"HTTP/1.1 200 OK\\r\\n\"..., 189, MSG_NOSIGNAL, NULL, 0) = 189\n"
    ))
}

#[cfg(test)]
const WAL_WRITE: &str = "2 00:00:00.2 pwrite64(14</d/adieu.db-wal>, \"\\0\\0\", 4096, 0) = 4096\n";

#[test]
fn the_sqlite_check_accepts_a_synced_revocation_and_refuses_every_other_order() {
    let db = Path::new("/d/adieu.db");
    let synced = format!("{WAL_WRITE}2 00:00:00.3 fsync(14</d/adieu.db-wal>) = 0\n");
    revocation_synced_before_answer(&sqlite_trace(&synced), CLIENT, db).unwrap();

    let unsynced = revocation_synced_before_answer(&sqlite_trace(WAL_WRITE), CLIENT, db);
    assert!(
        unsynced
            .unwrap_err()
            .contains("was not synced before the 200")
    );

    let other_file = format!("{WAL_WRITE}2 00:00:00.3 fsync(9</d/other.db>) = 0\n");
    assert!(revocation_synced_before_answer(&sqlite_trace(&other_file), CLIENT, db).is_err());

    let failed = format!(
        "{WAL_WRITE}2 00:00:00.3 fsync(14</d/adieu.db-wal>) = -1 EIO (Input/output error)\n"
    );
    assert!(revocation_synced_before_answer(&sqlite_trace(&failed), CLIENT, db).is_err());

    // The sync began before the answer but returned after it began.
    let late = format!(
        "{WAL_WRITE}2 00:00:00.3 fsync(14</d/adieu.db-wal> <unfinished ...>\n\
         1 00:00:00.9 sendto(18<TCP:[127.0.0.1:8->127.0.0.1:9]>, \"HTTP/1.1 200 OK\\r\\n\"..., 189, MSG_NOSIGNAL, NULL, 0) = 189\n\
         2 00:00:01.0 <... fsync resumed>) = 0\n"
    );
    let trace = strace::parse(&format!(
        "1 00:00:00.1 recvfrom(18<TCP:[127.0.0.1:8->127.0.0.1:9]>, \"POST /api/logout HTTP/1.1\\r\\n\"..., 8192, 0, NULL, NULL) = 166\n{late}"
    ));
    assert!(revocation_synced_before_answer(&trace, CLIENT, db).is_err());

    // Nothing written while the client waited.
    assert!(revocation_synced_before_answer(&sqlite_trace(""), CLIENT, db).is_err());
    // Another connection's 200 is not this logout's.
    assert!(revocation_synced_before_answer(&sqlite_trace(&synced), "127.0.0.1:10", db).is_err());
}

#[cfg(test)]
fn postgres_trace(middle: &str) -> Vec<Call> {
    sqlite_trace(middle)
}

#[cfg(test)]
const DB: &str = "127.0.0.1:5432";

#[cfg(test)]
fn pg(line: u32, call: &str, data: &str) -> String {
    format!(
        "3 00:00:00.{line} {call}(20<TCP:[127.0.0.1:40000->127.0.0.1:5432]>, \"{data}\", 100, 0, NULL, 0) = 100\n"
    )
}

#[test]
fn the_postgres_check_accepts_a_commit_answered_before_the_200_and_refuses_the_rest() {
    let revoke = pg(2, "sendto", "B\\0\\0\\0\\0sid42");
    let commit = pg(3, "sendto", "Q\\0\\0\\0\\vCOMMIT\\0");
    let reply = pg(4, "recvfrom", "C\\0\\0\\0\\vCOMMIT\\0Z");
    let check = |middle: &str| {
        revocation_committed_before_answer(&postgres_trace(middle), CLIENT, DB, "sid42")
    };
    check(&format!("{revoke}{commit}{reply}")).unwrap();
    assert!(
        check(&format!("{revoke}{commit}"))
            .unwrap_err()
            .contains("reply")
    );
    assert!(check(&format!("{revoke}{reply}")).is_err());
    assert!(check(&format!("{commit}{reply}")).is_err());
    assert!(check(&format!("{revoke}{}", pg(3, "sendto", "Q\\0ROLLBACK\\0"))).is_err());

    // The COMMIT's reply read only after the answer began.
    let trace = strace::parse(&format!(
        "1 00:00:00.1 recvfrom(18<TCP:[127.0.0.1:8->127.0.0.1:9]>, \"POST /api/logout HTTP/1.1\\r\\n\"..., 8192, 0, NULL, NULL) = 166\n\
         {revoke}{commit}\
         1 00:00:00.9 sendto(18<TCP:[127.0.0.1:8->127.0.0.1:9]>, \"HTTP/1.1 200 OK\\r\\n\"..., 189, MSG_NOSIGNAL, NULL, 0) = 189\n\
         {reply}"
    ));
    let late = revocation_committed_before_answer(&trace, CLIENT, DB, "sid42");
    assert!(late.unwrap_err().contains("after the 200 began"));
}

#[test]
fn the_database_peer_is_taken_from_the_url() {
    assert_eq!(
        database_peer("postgres://postgres@127.0.0.1:5432/test"),
        "127.0.0.1:5432"
    );
    assert_eq!(
        database_peer("postgres://u:p@localhost/db?x=1"),
        "127.0.0.1:5432"
    );
}
