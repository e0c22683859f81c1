"""The Python bindings of adieu-ffi against a real `adieu serve`."""

import asyncio
import datetime

import pytest

import adieu_ffi
from adieu_ffi import AdieuError, LocalOnlyReason, LogoutOutcome
from conftest import PASSWORD, FileStore, Front, Server, make_client


def run(coroutine):
    return asyncio.run(coroutine)


class Recorder(adieu_ffi.SessionObserver):
    def __init__(self):
        self.seen = []

    def session_changed(self, session):
        self.seen.append(None if session is None else session.username)


def test_login_me_and_logout_revoke_the_session_on_the_server(server, store):
    observer = Recorder()
    client = make_client(server.url, store, observer)
    run(client.register("alice", PASSWORD))

    session = run(client.login("alice", PASSWORD))
    assert session.username == "alice"
    assert client.current_session() == session
    me = run(client.me())
    assert (me.username, me.session_id) == ("alice", session.session_id)
    sessions = run(client.sessions())
    assert [s.current for s in sessions] == [True]
    assert sessions[0].user_agent == "adieu-ffi-test/1"
    assert isinstance(sessions[0].created_at, datetime.datetime)
    access = store.document()["session"]["access_token"]

    assert run(client.logout()) == LogoutOutcome.REVOKED()
    assert store.document() is None, "the store is emptied, then deleted"
    assert client.current_session() is None
    assert server.me_status(access) == 401
    with pytest.raises(AdieuError.Unauthorized):
        run(client.me())
    assert observer.seen == ["alice", None]


def test_a_client_started_again_finds_the_session_in_the_store(server, store):
    client = make_client(server.url, store)
    run(client.register("alice", PASSWORD))
    session = run(client.login("alice", PASSWORD))
    again = make_client(server.url, store)
    assert again.current_session() == session
    assert run(again.me()).session_id == session.session_id
    assert run(again.logout()) == LogoutOutcome.REVOKED()


def test_a_wrong_password_is_unauthorized_and_a_limit_is_rate_limited(tmp_path, store):
    server = Server(tmp_path, "--login-attempts-per-user", "1")
    try:
        client = make_client(server.url, store)
        run(client.register("alice", PASSWORD))
        with pytest.raises(AdieuError.Unauthorized):
            run(client.login("alice", "wrong password!"))
        with pytest.raises(AdieuError.RateLimited) as refused:
            run(client.login("alice", "wrong password!"))
        assert refused.value.retry_after > datetime.timedelta(0)
        assert store.document() is None
    finally:
        server.stop()


def test_logout_with_the_server_down_is_local_only_and_retry_pending_finishes_it(server, store):
    client = make_client(server.url, store)
    run(client.register("alice", PASSWORD))
    run(client.login("alice", PASSWORD))
    tokens = store.document()["session"]
    server.stop()

    outcome = run(client.logout())

    assert outcome == LogoutOutcome.LOCAL_ONLY(reason=LocalOnlyReason.NETWORK(), retry_pending=True)
    document = store.document()
    assert "session" not in document, "no usable credential is left"
    assert tokens["access_token"] not in str(document)
    assert [p["session_id"] for p in document["pending_revocations"]] == [tokens["session_id"]]
    assert client.current_session() is None
    assert client.pending_revocations() == 1
    assert run(client.retry_pending()) == 1, "still down: still queued"

    server.start()
    assert server.me_status(tokens["access_token"]) == 200, "alive until the retry"
    assert run(client.retry_pending()) == 0
    assert store.document() is None
    assert client.pending_revocations() == 0
    assert server.me_status(tokens["access_token"]) == 401
    assert server.refresh_status(tokens["refresh_token"]) == 401


@pytest.mark.parametrize("hold", ["request", "answer"])
def test_a_refresh_racing_a_logout_stores_nothing_and_every_token_is_refused(tmp_path, store, hold):
    # Access tokens that expire at once, so that the next call refreshes.
    server = Server(tmp_path, "--access-token-ttl", "1s")
    try:
        front = Front(server)
        client = make_client(front.url, store)
        run(client.register("alice", PASSWORD))
        run(client.login("alice", PASSWORD))
        old = store.document()["session"]
        front.hold = hold

        async def race():
            await asyncio.sleep(2.1)
            call = asyncio.ensure_future(client.me())
            reached = await asyncio.get_running_loop().run_in_executor(None, front.reached.wait, 20)
            assert reached, "the refresh reached the front"
            outcome = await client.logout()
            assert store.document() is None, "wiped before the refresh ends"
            front.release()
            with pytest.raises((AdieuError.Unauthorized, AdieuError.SessionRevoked)):
                await call
            return outcome

        assert run(race()) == LogoutOutcome.REVOKED()
        assert store.document() is None, "the refresh stored nothing"
        assert client.current_session() is None
        if hold == "answer":
            assert len(front.issued) == 1, "the server rotated the tokens before the logout"
        for access, refresh in [(old["access_token"], old["refresh_token"]), *front.issued]:
            assert server.me_status(access) == 401
            assert server.refresh_status(refresh) == 401
        front.shutdown()
    finally:
        server.stop()


class FailingStore(FileStore):
    def __init__(self, path, fail_on):
        super().__init__(path)
        self.fail_on = fail_on

    def read(self, key):
        if self.fail_on == "read":
            raise OSError("keychain locked")
        return super().read(key)

    def write(self, key, value):
        if self.fail_on == "write":
            raise OSError("disk full")
        return super().write(key, value)


def test_a_store_that_raises_is_a_store_error_and_leaves_no_session(server, store):
    with pytest.raises(AdieuError.Store, match="keychain locked"):
        make_client(server.url, FailingStore(store.dir, "read"))

    failing = FailingStore(store.dir, "write")
    client = make_client(server.url, failing)
    run(client.register("alice", PASSWORD))
    with pytest.raises(AdieuError.Store, match="disk full"):
        run(client.login("alice", PASSWORD))
    assert client.current_session() is None
    assert store.document() is None
    # The session the store could not keep was ended on the server.
    failing.fail_on = None
    run(client.login("alice", PASSWORD))
    assert [s.current for s in run(client.sessions())] == [True]


def test_a_store_raising_the_sdks_own_error_keeps_its_text(server, store):
    class Refusing(FileStore):
        def write(self, key, value):
            raise AdieuError.Store("the user denied access")

    client = make_client(server.url, Refusing(store.dir))
    run(client.register("alice", PASSWORD))
    with pytest.raises(AdieuError.Store, match="the user denied access"):
        run(client.login("alice", PASSWORD))
