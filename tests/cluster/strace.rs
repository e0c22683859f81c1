//! Running a node under strace and reading the log back as a list of system calls, in the
//! order they happened.
//!
//! strace stops a thread at each system call's entry and return and writes one line per
//! stop it handles (or one line for both), so the log's order is the order in which
//! calls began and returned. What one thread does after a call returns comes after that
//! return in the log, whichever thread does it: a task woken by a finished `fsync` can only
//! write after the `fsync`'s return line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The environment variable naming the strace binary.
pub(crate) const STRACE_VAR: &str = "ADIEU_TEST_STRACE";

/// The calls the durability tests read: the network and file writes, the reads of
/// sockets, and the syncs.
const TRACED: &str = "trace=read,readv,recvfrom,recvmsg,write,writev,sendto,sendmsg,\
                      pwrite64,pwritev,pwritev2,fsync,fdatasync";

/// The strace binary that `ADIEU_TEST_STRACE` names.
pub(crate) fn strace() -> PathBuf {
    let path = std::env::var_os(STRACE_VAR).unwrap_or_else(|| {
        panic!("{STRACE_VAR} must name the strace binary, e.g. /usr/bin/strace")
    });
    PathBuf::from(path)
}

/// The command that runs a node under strace, writing the log to `log`: every thread
/// (`-f`), descriptors decoded as paths and socket addresses (`-yy`), and enough of each
/// buffer (`-s`) to hold an HTTP status line or a PostgreSQL message with its parameters.
pub(crate) fn wrapper(strace: &Path, log: &Path) -> Vec<String> {
    [
        strace.to_str().unwrap(),
        "-f",
        "-tt",
        "-yy",
        "-s",
        "4096",
        "-e",
        TRACED,
        "-o",
        log.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// One system call that returned.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// Line of the log where it began (1-based).
    pub(crate) began: usize,
    /// Line where it returned: the same line, or a later `<... resumed>` one.
    pub(crate) returned: usize,
    /// `fsync`, `sendto`, …
    pub(crate) name: String,
    /// The first argument's descriptor number.
    pub(crate) fd_number: Option<u32>,
    /// The first argument's descriptor as strace decoded it: a path, or
    /// `TCP:[local->peer]`.
    pub(crate) fd: Option<String>,
    /// The first string argument, as strace escaped it (`\r\n`, `\0`, …), possibly cut.
    pub(crate) data: Option<String>,
    /// The return value; `None` if strace could not tell.
    pub(crate) result: Option<i64>,
}

impl Call {
    pub(crate) fn succeeded(&self) -> bool {
        self.result.is_some_and(|r| r >= 0)
    }

    pub(crate) fn is_write(&self) -> bool {
        matches!(
            self.name.as_str(),
            "write" | "writev" | "sendto" | "sendmsg" | "pwrite64" | "pwritev" | "pwritev2"
        )
    }

    pub(crate) fn is_read(&self) -> bool {
        matches!(
            self.name.as_str(),
            "read" | "readv" | "recvfrom" | "recvmsg"
        )
    }

    pub(crate) fn is_sync(&self) -> bool {
        matches!(self.name.as_str(), "fsync" | "fdatasync")
    }

    pub(crate) fn data(&self) -> &str {
        self.data.as_deref().unwrap_or("")
    }

    /// Whether the descriptor is the server's side of a TCP connection to `peer`
    /// (`127.0.0.1:PORT`).
    pub(crate) fn on_connection_to(&self, peer: &str) -> bool {
        self.fd
            .as_deref()
            .is_some_and(|fd| fd.starts_with("TCP:[") && fd.ends_with(&format!("->{peer}]")))
    }
}

/// Reads a log written by `strace -f -tt -yy`.
pub(crate) fn read(log: &Path) -> Vec<Call> {
    let text = std::fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("cannot read the strace log {}: {e}", log.display()));
    parse(&text)
}

/// The calls of a log, in the order they returned. A call that another thread's line
/// interrupted (`<unfinished ...>`) is joined with its `<... name resumed>` line.
pub(crate) fn parse(text: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut unfinished: HashMap<&str, (usize, String)> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let (pid, rest) = split_pid(line);
        let rest = skip_time(rest);
        if rest.starts_with("---") || rest.starts_with("+++") {
            continue;
        }
        if let Some(begun) = rest.strip_suffix(" <unfinished ...>") {
            unfinished.insert(pid, (number, begun.to_owned()));
            continue;
        }
        let (began, whole) = if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((_, tail)) = resumed.split_once(" resumed>") else {
                continue;
            };
            let Some((began, head)) = unfinished.remove(pid) else {
                continue;
            };
            (began, format!("{head}{tail}"))
        } else {
            (number, rest.to_owned())
        };
        if let Some(call) = call(began, number, &whole) {
            calls.push(call);
        }
    }
    calls
}

/// With `-f` every line starts with the thread's id, padded with spaces to a width of
/// five (`380   19:19:14.164510 …`).
fn split_pid(line: &str) -> (&str, &str) {
    match line.split_once(' ') {
        Some((pid, rest)) if pid.bytes().all(|b| b.is_ascii_digit()) => (pid, rest.trim_start()),
        _ => ("", line),
    }
}

/// `-tt` puts `HH:MM:SS.micros` before the call.
fn skip_time(rest: &str) -> &str {
    match rest.split_once(' ') {
        Some((time, call))
            if time.contains(':')
                && time
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b':' || b == b'.') =>
        {
            call
        }
        _ => rest,
    }
}

/// `name(fd<decoded>, "data"..., …) = result …`
fn call(began: usize, returned: usize, text: &str) -> Option<Call> {
    let (name, args) = text.split_once('(')?;
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let digits = args.bytes().take_while(u8::is_ascii_digit).count();
    let fd_number = args[..digits].parse().ok();
    let (fd, after_fd) = decoded_fd(args);
    let data = after_fd.and_then(first_string);
    let result = text
        .rfind(") = ")
        .and_then(|at| text[at + 4..].split(' ').next())
        .and_then(|r| r.parse().ok());
    Some(Call {
        began,
        returned,
        name: name.to_owned(),
        fd_number,
        fd,
        data,
        result,
    })
}

/// `12</tmp/x/adieu.db-wal>, …` or `7<TCP:[127.0.0.1:1->127.0.0.1:2]>, …`: the text between
/// the angle brackets, and what follows. A socket's text holds `->`, so the end is the `>`
/// before the next argument or the closing parenthesis.
fn decoded_fd(args: &str) -> (Option<String>, Option<&str>) {
    let digits = args.bytes().take_while(u8::is_ascii_digit).count();
    let Some(rest) = args[digits..].strip_prefix('<') else {
        return (None, Some(args));
    };
    let end = [">, ", ">)"]
        .iter()
        .filter_map(|close| rest.find(close))
        .min();
    match end {
        Some(end) => (Some(rest[..end].to_owned()), Some(&rest[end + 1..])),
        None => (None, None),
    }
}

/// The first string literal, without its quotes, its escapes kept.
fn first_string(args: &str) -> Option<String> {
    let start = args.find('"')? + 1;
    let mut escaped = false;
    for (i, c) in args[start..].char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(args[start..start + i].to_owned()),
            _ => escaped = false,
        }
    }
    Some(args[start..].to_owned())
}

#[test]
fn a_call_interrupted_by_another_thread_is_joined_with_its_resumption() {
    let calls = parse(
        "10 18:56:08.789 fsync(14</tmp/d/adieu.db-wal> <unfinished ...>\n\
         11 18:56:08.790 sendto(18<TCP:[127.0.0.1:8->127.0.0.1:9]>, \"HTTP/1.1 200 OK\\r\\n\"..., 189, MSG_NOSIGNAL, NULL, 0) = 189\n\
         10 18:56:08.791 <... fsync resumed>) = 0\n\
         11 18:56:08.792 +++ exited with 0 +++\n",
    );
    assert_eq!(calls.len(), 2);
    let (send, sync) = (&calls[0], &calls[1]);
    assert_eq!(send.name, "sendto");
    assert_eq!(send.fd.as_deref(), Some("TCP:[127.0.0.1:8->127.0.0.1:9]"));
    assert!(send.on_connection_to("127.0.0.1:9"));
    assert!(!send.on_connection_to("127.0.0.1:8"));
    assert_eq!(send.data(), "HTTP/1.1 200 OK\\r\\n");
    assert_eq!((send.began, send.returned, send.result), (2, 2, Some(189)));
    assert_eq!(sync.name, "fsync");
    assert_eq!(sync.fd.as_deref(), Some("/tmp/d/adieu.db-wal"));
    assert_eq!((sync.fd_number, send.fd_number), (Some(14), Some(18)));
    assert_eq!((sync.began, sync.returned, sync.result), (1, 3, Some(0)));
}

#[test]
fn a_short_thread_id_padded_with_spaces_is_read() {
    let calls = parse("380   19:19:14.214997 fsync(14</d/adieu.db-wal>) = 0\n");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, "fsync");
}

#[test]
fn a_failed_call_has_its_error_as_a_negative_result() {
    let calls = parse(
        "10 18:56:08.789 recvfrom(18<TCP:[127.0.0.1:8->127.0.0.1:9]>, 0x7f, 8192, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)\n",
    );
    assert_eq!(calls[0].result, Some(-1));
    assert!(!calls[0].succeeded());
    assert_eq!(calls[0].data, None);
}
