"""The rendezvous host's assisted-service REST API, as `openshift-install agent wait-for` reads it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from proxshift.clients.transport import POLL_RETRY, RetryPolicy, failure_kind
from proxshift.errors import OperationError

REQUEST_TIMEOUT = 5


class AgentUnreachable(OperationError):
    """The rendezvous host's API did not answer (or not with JSON); `kind` says how, for the lines."""

    def __init__(self, url: str, kind: str) -> None:
        super().__init__(f"the assisted-service API at {url} did not answer ({kind})", rendezvous_hint(url))
        self.kind = kind


def rendezvous_hint(url: str) -> str:
    """What to check when the rendezvous host does not answer."""
    host = urlsplit(url).hostname or url
    return (
        "check the rendezvous host's VM console (did it boot the agent ISO?), its boot order (the ISO "
        f"first on the first boot), the bridge and VLAN of its NIC, and, if a proxy is set, that NO_PROXY "
        f"covers {host}"
    )


class AgentApi:
    """The rendezvous host's assisted-service REST API (read-only calls the watcher may make).

    Requests go through one session with the poller's retry policy: a dropped connection is asked
    again at once, so that one lost answer is never taken for the host going away.
    """

    def __init__(self, url: str, token: str | None, retry: RetryPolicy = POLL_RETRY) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.session = retry.session()

    @property
    def where(self) -> str:
        return urlsplit(self.url).netloc or self.url

    def _get(self, path: str) -> Any:
        import requests

        headers = {"Watcher-Authorization": self.token} if self.token else {}
        try:
            response = self.session.get(f"{self.url}{path}", headers=headers, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            raise AgentUnreachable(self.url, failure_kind(exc)) from exc
        if response.status_code == 401:
            raise OperationError(
                "the assisted-service API refused the watcher token",
                "the install directory's .openshift_install_state.json belongs to another ISO",
            )
        if response.status_code >= 400:
            raise AgentUnreachable(self.url, f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise AgentUnreachable(self.url, "an answer that is not JSON") from exc

    def cluster(self) -> dict[str, Any] | None:
        """The cluster the rendezvous host installs; None while it has registered none yet."""
        clusters = self._get("/clusters")
        if not clusters:
            return None
        return dict(self._get(f"/clusters/{clusters[0]['id']}"))

    def events(self, cluster_id: str) -> list[dict[str, Any]]:
        return list(self._get(f"/events?cluster_id={cluster_id}") or [])
