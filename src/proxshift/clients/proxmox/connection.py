"""One logged-in connection to a PVE cluster (any node serves all of it), and its errors as proxshift errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxshift.clients.transport import RETRY, TRANSIENT_STATUSES, transport_errors
from proxshift.errors import OperationError, ProxshiftError, UserInputError
from proxshift.secret import Secret

if TYPE_CHECKING:
    from proxmoxer import ProxmoxAPI
    from requests.adapters import HTTPAdapter
    from urllib3 import HTTPConnectionPool
    from urllib3._base_connection import BaseHTTPConnection

REQUEST_TIMEOUT = 60  # proxmoxer's 5 s default is too short for a busy node
CONNECT_TIMEOUT = 10  # a host that does not answer at all: each of RETRY's attempts waits this long


@dataclass(frozen=True)
class ProxmoxCredentials:
    """An API token (preferred) or a user and password; never from a plain file."""

    user: str
    token_name: str | None = None
    token_secret: Secret | None = None
    password: Secret | None = None
    source: str = "environment"

    @property
    def kind(self) -> str:
        return "token" if self.token_name else "password"


def token_credentials(token_id: str, secret: str, source: str) -> ProxmoxCredentials:
    """`user@realm!tokenid` and its secret; `source` names where they came from in messages."""
    user, sep, name = token_id.partition("!")
    if not sep or "@" not in user or not name:
        raise UserInputError(
            f"{source}: '{token_id}' is not a token ID", "write it as user@realm!tokenid, e.g. proxshift@pve!ci"
        )
    return ProxmoxCredentials(user=user, token_name=name, token_secret=Secret(secret, source), source=source)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    verify: bool | str  # True, False (warned about by whoever chose it) or a CA file


class Connection:
    """proxmoxer's API object, logged in on first use (or ahead of it: `log_in_ahead`); `errors()` turns its
    failures into one line each."""

    def __init__(self, endpoint: Endpoint, credentials: ProxmoxCredentials) -> None:
        self.endpoint = endpoint
        self.credentials = credentials
        self._api: ProxmoxAPI | None = None
        self._login_lock = threading.Lock()
        self._ahead: threading.Thread | None = None
        self._ahead_error: BaseException | None = None
        self._adapter: HTTPAdapter | None = None
        self._adapter_lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"{self.endpoint.host}:{self.endpoint.port}"

    @contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        from proxmoxer.core import AuthenticationError, ResourceException

        tls_hint = "set proxmox.ca_cert to the cluster's CA (/etc/pve/pve-root-ca.pem)"
        try:
            with transport_errors("Proxmox", self.where, doing, tls_hint, "check proxmox.host and port"):
                yield
        except ProxshiftError:
            raise
        except AuthenticationError as exc:
            if (status := _login_status(exc)) in TRANSIENT_STATUSES:
                raise OperationError(
                    f"Proxmox at {self.where} answered HTTP {status} while {doing}",
                    f"pveproxy (or a proxy in between) is overloaded or restarting; the login was tried "
                    f"{RETRY.attempts} times: try again in a minute",
                ) from None
            raise OperationError(
                f"Proxmox at {self.where} rejected the {self.credentials.kind} of {self.credentials.user}",
                "check PROXSHIFT_PROXMOX_TOKEN_ID / _TOKEN_SECRET (or _USER / _PASSWORD)",
            ) from None
        except ResourceException as exc:
            reason = _reason(exc)
            if exc.status_code == 401:
                raise OperationError(f"Proxmox rejected the credentials while {doing}", "log in again") from None
            if exc.status_code == 403:
                raise OperationError(
                    f"permission denied while {doing}: {reason}", "see docs/proxmox.md for the role"
                ) from None
            if exc.status_code == 595:
                raise OperationError(f"node unreachable while {doing}: {reason}", "check the node is online") from None
            if exc.status_code in TRANSIENT_STATUSES:
                raise OperationError(
                    f"Proxmox at {self.where} answered HTTP {exc.status_code} while {doing}: {reason}",
                    "pveproxy (or a proxy in between) is overloaded or restarting; reads were retried a few "
                    "times: try again in a minute",
                ) from exc
            raise OperationError(f"Proxmox refused {doing}: {reason}", "see the task log on the node") from None

    def log_in_ahead(self) -> None:
        """Log in on a thread now, for a caller that is sure to use the API and has other work first (reading
        the inventory, importing the engine's modules): the TLS handshake and the ticket's round trip overlap
        that work. The first use of `api` waits for it, and raises its error."""
        with self._login_lock:
            if self._api is not None or self._ahead is not None:
                return

            def log_in() -> None:
                try:
                    self._api = self._log_in()
                except BaseException as exc:  # raised where the API is first used, in that thread
                    self._ahead_error = exc

            self._ahead = threading.Thread(target=log_in, name="proxmox-login", daemon=True)
            self._ahead.start()

    def open_ahead(self, count: int) -> threading.Thread:
        """Open `count` connections to the API host now, on threads, into the pool the session uses once
        logged in: requests made at once later (one per VM) then find them open instead of each waiting for
        its own TCP and TLS handshake, which overlap the login's round trip instead. Best effort: nothing
        waits for them (the thread is returned for tests, and ends once they are open), a connection that
        does not open is the next request's to open and to report, and none is opened through a proxy."""
        thread = threading.Thread(target=self._open, args=(count,), name="proxmox-connect", daemon=True)
        thread.start()
        return thread

    def _open(self, count: int) -> None:
        import requests
        from requests.utils import select_proxy
        from urllib3 import HTTPConnectionPool

        host = self.endpoint.host
        url = f"https://{f'[{host}]' if ':' in host and not host.startswith('[') else host}:{self.endpoint.port}/"
        # Everything in the try: an exception that left this thread would print a traceback (a host that
        # urllib.parse refuses, "pve1:8006" say, which proxmoxer itself accepts).
        try:
            # The pool a request of proxmoxer's session picks: its verify, after the environment's CA bundle.
            with requests.Session() as session:
                settings = session.merge_environment_settings(url, {}, None, self.endpoint.verify, None)
            if select_proxy(url, settings["proxies"]):
                return
            pool = self._pooled().get_connection_with_tls_context(
                requests.Request("GET", url).prepare(), settings["verify"]
            )
            if not isinstance(pool, HTTPConnectionPool):
                return
            # All the slots first, then the handshakes: none takes a connection another one just opened.
            taken = [pool._get_conn() for _ in range(count)]
        except Exception:  # best effort: the request that needs a connection opens it, and says why not
            return
        openers = [threading.Thread(target=_connect_into, args=(pool, one), daemon=True) for one in taken]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()

    def _pooled(self) -> HTTPAdapter:
        """The one adapter (retry policy and pool of connections) of this connection's session."""
        with self._adapter_lock:
            if self._adapter is None:
                self._adapter = RETRY.adapter()
            return self._adapter

    @property
    def api(self) -> ProxmoxAPI:
        if self._api is None:
            with self._login_lock:
                if self._ahead is not None:
                    self._ahead.join()
                    self._ahead, error, self._ahead_error = None, self._ahead_error, None
                    if error is not None:
                        raise error
                if self._api is None:
                    self._api = self._log_in()
        return self._api

    def _log_in(self) -> ProxmoxAPI:
        from proxmoxer import ProxmoxAPI

        creds = self.credentials
        auth: dict[str, Any] = (
            {
                "token_name": creds.token_name,
                "token_value": creds.token_secret.reveal() if creds.token_secret else "",
            }
            if creds.token_name
            else {"password": creds.password.reveal() if creds.password else ""}
        )
        with self.errors("logging in"):
            api = _retrying_login(
                lambda: ProxmoxAPI(
                    self.endpoint.host,
                    port=self.endpoint.port,
                    user=creds.user,
                    verify_ssl=self.endpoint.verify,
                    timeout=(CONNECT_TIMEOUT, REQUEST_TIMEOUT),
                    **auth,
                )
            )
        # Reads are retried on transient failures (RETRY): one dropped connection is not an outage.
        RETRY.mount(api._store["session"], self._pooled())
        return api


def _connect_into(pool: HTTPConnectionPool, connection: BaseHTTPConnection) -> None:
    """Open one connection taken from `pool` (unless a request already did) and give it back; one that does
    not open goes back as an empty slot."""
    try:
        if connection.is_closed:
            connection.timeout = CONNECT_TIMEOUT
            connection.connect()
    except Exception:  # the request that needs it opens it, and says why not
        connection.close()
        pool._put_conn(None)
    else:
        pool._put_conn(connection)


def _retrying_login(login: Callable[[], ProxmoxAPI], sleep: Callable[[float], None] = time.sleep) -> ProxmoxAPI:
    """A password login (POST /access/ticket, which proxmoxer sends outside any session and so outside
    RETRY) tried as RETRY tries a request that changes nothing: again on a dropped or refused connection,
    a timeout or a 429/502/503/504 (pveproxy restarting), never on a TLS failure or a refusal."""
    import requests
    from proxmoxer.core import AuthenticationError

    pause = 0.0
    for attempt in range(1, RETRY.attempts + 1):
        try:
            return login()
        except requests.exceptions.SSLError:
            raise
        except AuthenticationError as exc:
            if attempt == RETRY.attempts or _login_status(exc) not in TRANSIENT_STATUSES:
                raise
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
            if attempt == RETRY.attempts:
                raise
        sleep(pause)
        pause = max(RETRY.backoff, pause * 2)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _login_status(exc: Exception) -> int | None:
    """The HTTP status of a failed login: proxmoxer puts it only in its message ("... code: 503")."""
    import re

    found = re.search(r"code: (\d{3})\b", str(exc))
    return int(found.group(1)) if found else None


def _reason(exc: Any) -> str:
    content = str(getattr(exc, "content", "") or "").strip()
    errors = getattr(exc, "errors", None)
    detail = "; ".join(f"{k}: {v}" for k, v in errors.items()) if isinstance(errors, dict) else ""
    return ", ".join(p for p in (content, detail) if p) or f"HTTP {getattr(exc, 'status_code', '?')}"
