"""Poller: deadline, backoff and cap on a fake clock, so every timeline runs instantly."""

from __future__ import annotations

import http.server
import itertools
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from proxshift.clients.transport import Poller, RetryPolicy, failure_kind


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def _poller(clock: FakeClock, timeout: float, cap: float, first: float | None = 0.05) -> Poller:
    return Poller(timeout, cap=cap, first=first, clock=clock, sleep=clock.sleep)


def test_an_answer_at_once_means_no_pause() -> None:
    clock = FakeClock()
    assert _poller(clock, 10, 1).until(lambda: "done") == "done"
    assert clock.pauses == []


def test_pauses_double_up_to_the_cap() -> None:
    clock = FakeClock()
    answers = iter([None] * 6 + ["ready"])
    assert _poller(clock, 60, 0.5).until(lambda: next(answers)) == "ready"
    assert clock.pauses == [0.05, 0.1, 0.2, 0.4, 0.5, 0.5]


def test_a_fixed_interval_without_first() -> None:
    clock = FakeClock()
    answers = iter([0, 0, 0, 7])
    assert _poller(clock, 60, 5, first=None).until(lambda: next(answers)) == 7
    assert clock.pauses == [5, 5, 5]


def test_gives_up_after_the_deadline_with_one_last_look() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def never() -> bool:
        calls.append(clock.now)
        return False

    assert _poller(clock, 10, 3, first=None).until(never) is None
    assert calls == [0, 3, 6, 9, 12]  # the look at 12 s is past the deadline: then it gives up
    assert clock.now == 12


def test_on_miss_runs_after_each_unanswered_attempt() -> None:
    clock = FakeClock()
    answers = iter([None, None, "x"])
    misses: list[float] = []
    _poller(clock, 10, 1).until(lambda: next(answers), lambda: misses.append(clock.now))
    assert misses == [0, 0.05]


def test_the_cap_may_change_between_attempts() -> None:
    clock = FakeClock()
    poller = _poller(clock, 100, 5, first=None)
    seen = 0

    def check() -> bool:
        nonlocal seen
        seen += 1
        if seen == 2:
            poller.cap = 2  # the last stage polls faster
        return seen == 4

    assert poller.until(check)
    assert clock.pauses == [5, 2, 2]


# -- the retry policy, against a real HTTP server that misbehaves on cue -----------------------------------
# `responses` replaces the adapter's send(): it never reaches urllib3's retry loop for a dropped connection
# and never sleeps for Retry-After, so what urllib3 does is checked against this small server instead.


class Script(http.server.BaseHTTPRequestHandler):
    """Answers each request with the next action of the server's script: drop, a status, or 200."""

    server: ScriptedServer

    def _act(self) -> None:
        self.server.seen.append((self.command, time.monotonic()))
        action = self.server.script.pop(0) if self.server.script else ("ok",)
        if action[0] == "hang":
            time.sleep(float(action[1]))
            return
        if action[0] == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        status = 200 if action[0] == "ok" else int(action[0])
        body = b'{"ok": true}' if status == 200 else b'{"errors": ["busy"]}'
        self.send_response(status)
        for name, value in action[1:]:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _act

    def log_message(self, format: str, *args: object) -> None:
        pass


class ScriptedServer(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Script)
        self.script: list[tuple[Any, ...]] = []
        self.seen: list[tuple[str, float]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/x"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    httpd = ScriptedServer()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


FAST = RetryPolicy(backoff=0.01, retry_after_cap=0.3)


def test_a_dropped_connection_on_a_read_is_retried(server: ScriptedServer) -> None:
    server.script = [("drop",), ("ok",)]
    assert FAST.session().get(server.url, timeout=5).json() == {"ok": True}
    assert [method for method, _ in server.seen] == ["GET", "GET"]


def test_a_dropped_connection_on_a_write_is_not_retried(server: ScriptedServer) -> None:
    server.script = [("drop",), ("ok",)]
    with pytest.raises(requests.ConnectionError) as caught:
        FAST.session().post(server.url, json={}, timeout=5)
    assert failure_kind(caught.value) == "connection dropped"
    assert [method for method, _ in server.seen] == ["POST"]


def test_retry_after_is_honoured_and_capped(server: ScriptedServer) -> None:
    server.script = [("503", ("Retry-After", "0.25")), ("429", ("Retry-After", "3600")), ("ok",)]
    began = time.monotonic()
    assert FAST.session().get(server.url, timeout=5).status_code == 200
    pauses = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(server.seen)]
    assert pauses[0] >= 0.2  # Retry-After: 0.25, read leniently (urllib3 alone fails the request on it)
    assert pauses[1] < 1.0  # 3600 s capped at 0.3 s
    assert time.monotonic() - began < 2


def test_the_last_answer_comes_back_when_every_attempt_fails(server: ScriptedServer) -> None:
    server.script = [("503",)] * 10
    response = FAST.session().get(server.url, timeout=5)
    assert response.status_code == 503  # the client's own mapping names the status
    assert len(server.seen) == FAST.attempts


def test_a_status_is_not_retried_on_a_write(server: ScriptedServer) -> None:
    server.script = [("503",), ("ok",)]
    assert FAST.session().post(server.url, json={}, timeout=5).status_code == 503
    assert len(server.seen) == 1


def test_a_read_timeout_is_retried_once_only(server: ScriptedServer) -> None:
    server.script = [("hang", 0.6)] * 2 + [("ok",)]
    with pytest.raises(requests.ConnectionError) as caught:
        FAST.session().get(server.url, timeout=0.3)
    assert failure_kind(caught.value) == "timed out"
    assert len(server.seen) == 2  # a hung server costs two timeouts, not four
    server.script, server.seen = [("hang", 0.6), ("ok",)], []
    assert FAST.session().get(server.url, timeout=0.3).status_code == 200


def test_a_refused_connection_is_retried_then_named(server: ScriptedServer) -> None:
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    began = time.monotonic()
    with pytest.raises(requests.ConnectionError) as caught:
        RetryPolicy(backoff=0.1).session().get(f"http://127.0.0.1:{port}/", timeout=5)
    assert failure_kind(caught.value) == "connection refused"
    assert time.monotonic() - began >= 0.1 * 2 + 0.1 * 4  # the pauses before the 3rd and 4th attempts


# -- failures named by kind ---------------------------------------------------------------------------------


def test_kinds_through_the_wrappers() -> None:
    from urllib3.connection import HTTPConnection
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ReadTimeoutError

    conn = HTTPConnection("example.invalid")

    def wrapped(reason: Exception) -> requests.ConnectionError:
        return requests.ConnectionError(MaxRetryError(None, "/", reason))  # type: ignore[arg-type]

    dns = NameResolutionError("example.invalid", conn, socket.gaierror(-2, "Name or service not known"))
    assert failure_kind(wrapped(dns)) == "DNS lookup failed"
    refused = NewConnectionError(conn, "Failed to establish a new connection")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert failure_kind(wrapped(refused)) == "connection refused"
    unreachable = NewConnectionError(conn, "Failed to establish a new connection")
    unreachable.__cause__ = OSError(113, "No route to host")
    assert failure_kind(wrapped(unreachable)) == "no route to host"
    read = ReadTimeoutError(None, "/", "Read timed out. (read timeout=5)")  # type: ignore[arg-type]
    assert failure_kind(requests.ReadTimeout(MaxRetryError(None, "/", read))) == "timed out"  # type: ignore[arg-type]
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "self-signed certificate"
    assert failure_kind(requests.exceptions.SSLError(verify)) == "TLS: self-signed certificate"
    response = requests.Response()
    response.status_code = 503
    assert failure_kind(requests.HTTPError(response=response)) == "HTTP 503"
    assert failure_kind(ValueError("x")) == "ValueError"


def test_transport_errors_keep_the_kind_and_the_cause() -> None:
    from proxshift.clients.transport import transport_errors
    from proxshift.errors import OperationError

    cause = requests.ConnectionError(ConnectionRefusedError(111, "Connection refused"))
    with pytest.raises(OperationError) as caught, transport_errors("Vault", "http://v:8200", "reading x", "t", "r"):
        raise cause
    assert caught.value.message == "Vault at http://v:8200 is unreachable while reading x (connection refused)"
    assert caught.value.__cause__ is cause  # --debug prints it
