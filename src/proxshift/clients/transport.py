"""What every client shares about talking to a remote: one retry policy, failures named by kind, polling."""

from __future__ import annotations

import errno
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self, TypeVar

from proxshift.errors import OperationError, ProxshiftError

if TYPE_CHECKING:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

T = TypeVar("T")

IDEMPOTENT_READS = frozenset({"GET", "HEAD", "OPTIONS"})
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """When a request is tried again: the one answer for Proxmox, Vault, the assisted-service and Kubernetes.

    A request that never reached the server (refused, DNS, connect timeout) is tried again whatever its
    method; one that may have reached it (a dropped connection, a read timeout, an answer of 429, 502, 503
    or 504) only when it is a read (GET, HEAD, OPTIONS): a PVE POST, PUT or DELETE may start a task, and a
    second one would report the first one's result as an error. A read that timed out is asked again only
    once (a hung server costs two timeouts, not four). A TLS failure is never retried (a
    certificate does not fix itself). Pauses: the first retry at once, then `backoff` times 2, 4, ...;
    a server's Retry-After is honoured, up to `retry_after_cap` seconds. After the last attempt the
    last answer (a 503, say) goes back to the client, so its own error mapping names it.
    """

    attempts: int = 4  # in all, the first one included
    backoff: float = 0.5
    retry_after_cap: float = 30.0
    statuses: frozenset[int] = TRANSIENT_STATUSES
    methods: frozenset[str] = IDEMPOTENT_READS

    def urllib3(self) -> Retry:
        """The policy as urllib3's Retry: for a requests adapter, or a kubernetes Configuration."""
        return _capped_retry(self)

    def session(self) -> requests.Session:
        """A requests Session with this policy mounted for http and https."""
        import requests

        session = requests.Session()
        self.mount(session)
        return session

    def adapter(self) -> HTTPAdapter:
        """A requests adapter with this policy (and its own pool of connections)."""
        from requests.adapters import HTTPAdapter

        return HTTPAdapter(max_retries=self.urllib3(), pool_maxsize=CONNECTIONS)

    def mount(self, session: requests.Session, adapter: HTTPAdapter | None = None) -> None:
        """Put this policy on a session someone else built (proxmoxer's, say), with `adapter` when its pool
        already holds connections."""
        adapter = adapter or self.adapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)


# Connections kept open to one host (requests' own default, named so that the reads made at once fit in it).
CONNECTIONS = 10
# One-shot requests: a run stops when they fail, so a few seconds of retrying is worth it.
RETRY = RetryPolicy()
# Requests of a poller, whose next poll is the real retry: one immediate retry absorbs a dropped
# connection, so that one lost answer is never taken for "gone".
POLL_RETRY = RetryPolicy(attempts=2, backoff=0.0, retry_after_cap=5.0)


def _capped_retry(policy: RetryPolicy) -> Retry:
    import logging

    from urllib3.exceptions import InvalidHeader, MaxRetryError, ReadTimeoutError
    from urllib3.util.retry import Retry

    # urllib3 logs each retry as a WARNING, which logging's last-resort handler prints on stderr: a line
    # per dropped connection. proxshift names the failure that matters in its own message.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

    class CappedRetry(Retry):
        """urllib3's Retry, with a server's Retry-After bounded (it would otherwise sleep for hours) and
        read leniently (urllib3 fails the whole request on `Retry-After: 0.5`)."""

        def parse_retry_after(self, retry_after: str) -> float:
            try:
                return max(float(retry_after), 0.0)
            except ValueError:
                pass
            try:
                return float(super().parse_retry_after(retry_after))
            except InvalidHeader:
                return 0.0

        def increment(self, *args: Any, **kwargs: Any) -> Self:
            """A read that timed out is asked again once, not three times: a server that hangs should
            cost two timeouts, not four."""
            error = kwargs.get("error") or (args[3] if len(args) > 3 else None)
            if isinstance(error, ReadTimeoutError) and any(
                isinstance(attempt.error, ReadTimeoutError) for attempt in self.history
            ):
                url = kwargs.get("url") or (args[1] if len(args) > 1 else None)
                raise MaxRetryError(kwargs.get("_pool"), url, error) from error  # type: ignore[arg-type] # as urllib3
            return super().increment(*args, **kwargs)

        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(value, policy.retry_after_cap)

    return CappedRetry(
        total=max(policy.attempts - 1, 0),
        other=0,
        allowed_methods=policy.methods,
        status_forcelist=policy.statuses,
        backoff_factor=policy.backoff,
        raise_on_status=False,
        respect_retry_after_header=True,
    )


# -- what went wrong, in a word or three -------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: causes, contexts, urllib3's reason, requests' first arg."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        todo.append(reason if isinstance(reason, BaseException) else None)
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
        todo.extend((current.__cause__, current.__context__))


def failure_kind(exc: BaseException) -> str:
    """What kind of failure this was, for a message: `connection refused`, `timed out`, `DNS lookup failed`,
    `TLS: <why>`, `connection dropped`, `no route to host`, `HTTP 503`, ...; the type's name otherwise."""
    chain = list(_chain(exc))
    for kind_of in (_tls_kind, _network_kind, _answer_kind):
        if kind := kind_of(chain):
            return kind
    return type(exc).__name__


def answer_lost(exc: BaseException) -> bool:
    """Whether a request may have reached the server with its answer lost on the way back: the connection
    dropped after it was sent, or the answer did not come in time. (A refused or unreachable connection,
    a DNS or TLS failure: it never got there; an HTTP status: it was answered.)"""
    chain = list(_chain(exc))
    if _tls_kind(chain) or _named(chain, "ConnectTimeout", "ConnectTimeoutError", "NewConnectionError"):
        return False
    if _named(chain, "ReadTimeout", "ReadTimeoutError"):
        return True
    return _network_kind(chain) is None and _answer_kind(chain) == "connection dropped"


def _first(chain: list[BaseException], *types: type[BaseException]) -> BaseException | None:
    return next((error for error in chain if isinstance(error, types)), None)


def _tls_kind(chain: list[BaseException]) -> str | None:
    if verify := _first(chain, ssl.SSLCertVerificationError):
        return f"TLS: {getattr(verify, 'verify_message', '') or 'certificate verify failed'}"
    if tls := _first(chain, ssl.SSLError):
        return f"TLS: {getattr(tls, 'reason', None) or tls}"
    return "TLS: handshake failed" if _named(chain, "SSLError") else None


_BY_ERRNO = {errno.EHOSTUNREACH: "no route to host", errno.ENETUNREACH: "network unreachable"}


def _network_kind(chain: list[BaseException]) -> str | None:
    import socket

    if _first(chain, socket.gaierror) or _named(chain, "NameResolutionError"):
        return "DNS lookup failed"
    if _first(chain, ConnectionRefusedError):
        return "connection refused"
    if _first(chain, TimeoutError, socket.timeout) or _named(chain, "Timeout", "TimeoutError"):
        return "timed out"
    return next((_BY_ERRNO[e.errno] for e in chain if isinstance(e, OSError) and e.errno in _BY_ERRNO), None)


def _answer_kind(chain: list[BaseException]) -> str | None:
    """The connection broke mid-way, or a proxy or server answered with an error."""
    if _first(chain, ConnectionError) or _named(chain, "ProtocolError", "RemoteDisconnected", "ChunkedEncodingError"):
        return "connection dropped"
    if _named(chain, "ProxyError"):
        return "the proxy refused"
    statuses = (getattr(getattr(error, "response", None), "status_code", None) for error in chain)
    return next((f"HTTP {status}" for status in statuses if isinstance(status, int)), None)


def _named(chain: list[BaseException], *names: str) -> bool:
    """Whether a wrapper of that class name is in the chain (urllib3, requests: no import needed)."""
    return any(type(error).__name__.endswith(names) for error in chain)


@contextmanager
def transport_errors(service: str, where: str, doing: str, tls_hint: str, reach_hint: str) -> Iterator[None]:
    """requests' failures as one line naming the service, the address and the kind; --debug shows the cause."""
    import requests

    try:
        yield
    except ProxshiftError:
        raise
    except requests.exceptions.SSLError as exc:
        raise OperationError(
            f"TLS verification of {service} at {where} failed while {doing} ({failure_kind(exc)})", tls_hint
        ) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise OperationError(
            f"{service} at {where} is unreachable while {doing} ({failure_kind(exc)})", reach_hint
        ) from exc


@dataclass
class Poller:
    """Ask again until there is an answer or the deadline passes, waiting a little longer each time.

    The first pause is `first` (things usually happen fast), each next one `factor` times longer, never
    longer than `cap`; `first=None` polls at a fixed interval of `cap`. `cap` may be changed between
    attempts (the install watcher polls faster in its last stage). The clock and sleep are injectable,
    so tests run any timeline instantly.
    """

    timeout: float
    cap: float
    first: float | None = 0.05
    factor: float = 2.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def until(self, check: Callable[[], T], on_miss: Callable[[], None] | None = None) -> T | None:
        """`check`'s first truthy answer; None once `timeout` seconds passed without one.

        `check` runs at least once, and once more after the deadline if a pause ends past it;
        `on_miss` runs after each attempt without an answer (progress lines, say).
        """
        deadline = self.clock() + self.timeout
        pause: float | None = None
        while True:
            answer = check()
            if answer:
                return answer
            if on_miss is not None:
                on_miss()
            if self.clock() > deadline:
                return None
            if pause is None:
                pause = self.cap if self.first is None else self.first
            else:
                pause *= self.factor
            pause = min(pause, self.cap)
            self.sleep(pause)
