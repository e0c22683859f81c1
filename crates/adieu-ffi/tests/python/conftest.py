"""A real `adieu serve` on a free port, a SecureStore kept in a file, and a front that can hold
a refresh in flight. The binary is $ADIEU_BIN (default: target/debug/adieu)."""

import http.client
import http.server
import json
import os
import pathlib
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

import adieu_ffi

PASSWORD = "correct horse battery"
ROOT = pathlib.Path(__file__).resolve().parents[4]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
ADIEU_BIN = os.environ.get("ADIEU_BIN", str(TARGET / "debug" / "adieu"))


class Server:
    """One `adieu serve` process on its own SQLite database, stoppable and restartable on the
    same address."""

    def __init__(self, tmp: pathlib.Path, *extra: str):
        self.database = f"sqlite://{tmp / 'a.db'}"
        self.extra = list(extra)
        self.listen = "127.0.0.1:0"
        self.process = None
        self.url = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [
                ADIEU_BIN, "serve",
                "--listen", self.listen,
                "--database-url", self.database,
                "--argon2-memory-kib", "64", "--argon2-iterations", "1",
                *self._flags(),
            ],
            stdout=subprocess.PIPE,
            env={**os.environ, "RUST_LOG": "error"},
            text=True,
        )
        for line in self.process.stdout:
            if line.startswith("adieu listening on "):
                self.url = line.removeprefix("adieu listening on ").strip().rstrip("/")
                break
        else:
            raise RuntimeError("adieu serve exited before listening")
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        # A restart comes back on the same port.
        self.listen = self.url.removeprefix("http://")

    def _flags(self):
        """No rate limits, unless `extra` sets one; then `extra`."""
        flags = {f: "0" for f in ("--login-attempts-per-ip", "--login-attempts-per-user",
                                  "--login-attempts-per-user-total", "--registrations-per-ip")}
        extra = list(self.extra)
        for name in list(flags):
            if name in extra:
                i = extra.index(name)
                flags[name] = extra[i + 1]
                del extra[i:i + 2]
        return [x for pair in flags.items() for x in pair] + extra

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def me_status(self, access: str) -> int:
        return self._status("GET", "/api/me", headers={"authorization": f"Bearer {access}"})

    def refresh_status(self, refresh: str) -> int:
        return self._status(
            "POST", "/api/token/refresh",
            body=json.dumps({"refresh_token": refresh}).encode(),
            headers={"content-type": "application/json"},
        )

    def _status(self, method, path, body=None, headers=None) -> int:
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code


class FileStore(adieu_ffi.SecureStore):
    """The SecureStore as a file: written to a temporary file, fsynced, renamed over the old one,
    the directory fsynced; deleted durably."""

    def __init__(self, path: pathlib.Path):
        self.dir = path

    def _path(self, key):
        return self.dir / f"{key}.json"

    def read(self, key):
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key, value):
        tmp = self._path(key).with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, value)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._path(key))
        self._sync_dir()

    def delete(self, key):
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            return
        self._sync_dir()

    def _sync_dir(self):
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def document(self, key="adieu.credentials"):
        """What is stored, parsed (None if nothing)."""
        raw = self.read(key)
        return None if raw is None else json.loads(raw)


class Front(http.server.ThreadingHTTPServer):
    """Forwards every request to the server; when `hold` is "request" or "answer", a refresh
    waits before being forwarded, or after, until `release()`. The tokens the server issued to
    refreshes are recorded in `issued`."""

    daemon_threads = True

    def __init__(self, server: Server):
        super().__init__(("127.0.0.1", 0), _FrontHandler)
        self.upstream = server.url.removeprefix("http://")
        self.hold = None
        self.reached = threading.Event()
        self.released = threading.Event()
        self.issued = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def release(self):
        self.released.set()


class _FrontHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _forward(self):
        front: Front = self.server
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        refresh = self.path == "/api/token/refresh"
        if refresh and front.hold == "request":
            front.reached.set()
            front.released.wait(30)
        upstream = http.client.HTTPConnection(front.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        if refresh and answer.status == 200:
            tokens = json.loads(data)
            front.issued.append((tokens["access_token"], tokens["refresh_token"]))
        if refresh and front.hold == "answer":
            front.reached.set()
            front.released.wait(30)
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _forward


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def store(tmp_path):
    d = tmp_path / "store"
    d.mkdir()
    return FileStore(d)


def make_client(url, store, observer=None):
    config = adieu_ffi.AdieuConfig(server_url=url, request_timeout_ms=5000,
                                   connect_timeout_ms=2000, user_agent="adieu-ffi-test/1")
    return adieu_ffi.AdieuClient(config, store, observer)
