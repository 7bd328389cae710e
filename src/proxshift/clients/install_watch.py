"""Follow an agent-based install to the end: assisted-service during bootstrap, then the cluster's API.

Stateless on purpose: every poll reads the current state, so `proxshift wait` can be started,
interrupted and started again at any time.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from proxshift.clients.kube import Kube, KubeError, KubeUnreachable, condition_is, conditions
from proxshift.clients.transport import POLL_RETRY, Poller
from proxshift.errors import ExitCode, OperationError

PROGRESS = re.compile(r"(\d+) of (\d+) done \((\d+)% complete\)")
READY_STALL_SECONDS = 60
FAILING_GRACE_SECONDS = 600
KUBE_TIMEOUT = 5
T = TypeVar("T")


class InstallFailed(OperationError):
    """The install failed or timed out; exit codes as openshift-install's (5 bootstrap, 6 install)."""

    def __init__(self, message: str, hint: str, stage: str) -> None:
        super().__init__(message, hint)
        self.exit_code = ExitCode.BOOTSTRAP_FAILED if stage == "bootstrap" else ExitCode.INSTALL_FAILED


@dataclass
class WatchSettings:
    agent_url: str  # http://<rendezvousIP>:8090/api/assisted-install/v2
    kubeconfig: Path
    expected_nodes: int
    cluster: str
    watcher_token: str | None = None
    timeout: float = 120 * 60
    poll: float = 5.0
    final_poll: float = 2.0  # at most this long between ClusterVersion reads: bounds detection latency
    failing_grace: float = FAILING_GRACE_SECONDS
    ready_stall: float = READY_STALL_SECONDS


@dataclass
class Installed:
    console_url: str | None
    api_url: str
    seconds: float


Report = Callable[[str], None]


@dataclass
class _Seen:
    """What has been said already, so that each line is printed once."""

    lines: dict[str, str] = field(default_factory=dict)
    events: int = 0
    failing_validations: set[str] = field(default_factory=set)

    def say(self, key: str, text: str, report: Report) -> None:
        if self.lines.get(key) != text:
            self.lines[key] = text
            report(text)


def _read(kube: Kube, read: Callable[[Kube], T]) -> T | None:
    """A read of the new cluster's API; None whenever it is not answering yet (normal early on)."""
    try:
        return read(kube)
    except KubeError as exc:
        if exc.status in (401, 403):
            raise OperationError(
                f"the cluster's API at {kube.server} refused the kubeconfig (HTTP {exc.status})",
                "the install directory's auth/kubeconfig belongs to another install",
            ) from None
        return None
    except KubeUnreachable:
        return None


def bootstrap_complete(kube: Kube) -> bool | None:
    config_map = _read(kube, lambda k: k.get("v1", "ConfigMap", "bootstrap", "kube-system"))
    if config_map is None:
        return None
    return bool((config_map.get("data") or {}).get("status") == "complete")


def cluster_version(kube: Kube) -> dict[str, Any] | None:
    return _read(kube, lambda k: k.get("config.openshift.io/v1", "ClusterVersion", "version"))


def cluster_operators(kube: Kube) -> list[dict[str, Any]]:
    return _read(kube, lambda k: k.list("config.openshift.io/v1", "ClusterOperator")) or []


def ready_nodes(kube: Kube) -> tuple[int, int] | None:
    nodes = _read(kube, lambda k: k.list("v1", "Node"))
    if nodes is None:
        return None
    return sum(1 for node in nodes if condition_is(node, "Ready")), len(nodes)


def console_url(kube: Kube) -> str | None:
    route = _read(kube, lambda k: k.get("route.openshift.io/v1", "Route", "console", "openshift-console"))
    host = (route or {}).get("spec", {}).get("host")
    return f"https://{host}" if host else None


def unhealthy_operators(operators: list[dict[str, Any]]) -> list[str]:
    lines = []
    for operator in operators:
        name = operator.get("metadata", {}).get("name", "?")
        by_type = conditions(operator)
        for kind, bad in (("Available", "False"), ("Degraded", "True"), ("Progressing", "True")):
            if condition_is(operator, kind, bad) or (kind == "Available" and kind not in by_type):
                message = by_type.get(kind, {}).get("message", "no status reported")
                lines.append(f"{name}: {kind}={by_type.get(kind, {}).get('status', 'Unknown')}: {message}")
    return lines


class AgentApi:
    """The rendezvous host's assisted-service REST API (read-only calls the watcher may make)."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def _get(self, path: str) -> Any:
        headers = {"Watcher-Authorization": self.token} if self.token else {}
        request = urllib.request.Request(f"{self.url}{path}", headers=headers)  # noqa: S310 - http(s) from config
        try:
            with urllib.request.urlopen(request, timeout=KUBE_TIMEOUT) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise OperationError(
                    "the assisted-service API refused the watcher token",
                    "the install directory's .openshift_install_state.json belongs to another ISO",
                ) from None
            return None
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def cluster(self) -> dict[str, Any] | None:
        clusters = self._get("/clusters")
        if not clusters:
            return None
        detail = self._get(f"/clusters/{clusters[0]['id']}")
        return dict(detail) if detail else None

    def events(self, cluster_id: str) -> list[dict[str, Any]]:
        return list(self._get(f"/events?cluster_id={cluster_id}") or [])


def _age(stamp: str | None, now: float) -> str:
    if not stamp:
        return ""
    try:
        started = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    except ValueError:
        return ""
    seconds = max(0, int(now - started))
    return f"{seconds // 60}m{seconds % 60:02d}s in stage"


class InstallWatcher:
    def __init__(
        self,
        settings: WatchSettings,
        report: Report,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_hosts: Callable[[list[tuple[str, ...]]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.report = report
        # With on_hosts (a live table on a terminal) host rows go there instead of into the report lines.
        self.on_hosts = on_hosts
        self.clock = clock
        self.sleep = sleep
        self.seen = _Seen()
        self._kube: Kube | None = None
        self._ready_since: float | None = None
        self._failing_since: float | None = None
        self._agent_seen = False

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = Kube.from_file(self.settings.kubeconfig, "the cluster", timeout=KUBE_TIMEOUT, retry=POLL_RETRY)
        return self._kube

    def run(self) -> Installed:
        start = self.clock()
        poller = Poller(self.settings.timeout, cap=self.settings.poll, first=None, clock=self.clock, sleep=self.sleep)
        stage = "bootstrap"

        def step() -> Installed | None:
            nonlocal stage
            if stage == "bootstrap":
                if not bootstrap_complete(self.kube):
                    self._bootstrap_step()
                    return None
                if self.on_hosts is not None:
                    self.on_hosts([])  # the hosts' bootstrap rows are history now
                self.report("bootstrap complete: the control plane runs on the cluster's own nodes")
                stage = "cluster"
                # At most final_poll between ClusterVersion reads: that bounds how late the end is seen.
                poller.cap = min(self.settings.poll, self.settings.final_poll)
            if self._cluster_step():
                return Installed(console_url(self.kube), self.kube.server, self.clock() - start)
            return None

        installed = poller.until(step)
        if installed is None:
            self._time_out(stage)
        return installed

    # -- bootstrap -------------------------------------------------------------------------------

    def _bootstrap_step(self) -> None:
        agent = AgentApi(self.settings.agent_url, self.settings.watcher_token)
        cluster = agent.cluster()
        now = self.clock()
        if cluster is None:
            text = (
                "bootstrap: the rendezvous host's API is gone; waiting for the cluster's API"
                if self._agent_seen
                else "bootstrap: waiting for the rendezvous host to come up"
            )
            self.seen.say("agent", text, self.report)
            return
        self._agent_seen = True
        status = str(cluster.get("status", ""))
        percentage = (cluster.get("progress") or {}).get("total_percentage", 0)
        self.seen.say(
            "agent", f"bootstrap: cluster {status} {percentage}%: {cluster.get('status_info', '')}", self.report
        )
        rows: list[tuple[str, ...]] = []
        for host in cluster.get("hosts") or []:
            name = host.get("requested_hostname", host.get("id"))
            role = str(host.get("role", "")) + (", bootstrap" if host.get("bootstrap") else "")
            progress = host.get("progress") or {}
            stage = progress.get("current_stage") or "-"
            percentage = f"{progress.get('installation_percentage', 0)}%"
            age = _age(progress.get("stage_updated_at"), time.time()) if stage != "-" else ""
            rows.append((str(name), role, str(host.get("status")), stage, percentage, age))
            if self.on_hosts is None:
                line = f"  {name} ({role}): {host.get('status')} · {stage} · {percentage}"
                self.seen.say(f"host:{name}", line + (f" · {age}" if age else ""), self.report)
            if host.get("stage_timed_out"):
                self.seen.say(f"timeout:{name}", f"  {name}: stage '{stage}' timed out", self.report)
            self._validations(str(name), host.get("validations_info"))
        if self.on_hosts is not None:
            self.on_hosts(rows)
        for event in agent.events(str(cluster.get("id")))[self.seen.events :]:
            self.report(f"  event: {event.get('message')}")
            self.seen.events += 1
        if status == "ready":
            self._ready_since = self._ready_since or now
            if now - self._ready_since > self.settings.ready_stall:
                raise InstallFailed(
                    "the cluster has been 'ready' for over a minute but the install did not start",
                    "a host is probably missing or not booting from the ISO: check the VMs' consoles",
                    "bootstrap",
                )
        else:
            self._ready_since = None
        if status == "installing-pending-user-action":
            raise InstallFailed(
                f"the install waits for user action: {cluster.get('status_info')}",
                "usually a host booted from the ISO again: fix its boot order, then 'proxshift wait'",
                "bootstrap",
            )
        if status in ("cancelled", "error"):
            raise InstallFailed(
                f"the install was {status}: {cluster.get('status_info')}",
                "see the events above and the rendezvous host's journal",
                "bootstrap",
            )

    def _validations(self, host: str, info: Any) -> None:
        try:
            groups = json.loads(info) if isinstance(info, str) and info else (info or {})
        except ValueError:
            return
        for checks in groups.values() if isinstance(groups, dict) else []:
            for check in checks or []:
                key = f"{host}:{check.get('id')}"
                if check.get("status") == "failure" and key not in self.seen.failing_validations:
                    self.seen.failing_validations.add(key)
                    self.report(f"  validation failing on {host}: {check.get('message')}")
                elif check.get("status") == "success":
                    self.seen.failing_validations.discard(key)

    # -- cluster ---------------------------------------------------------------------------------

    def _cluster_step(self) -> bool:
        version = cluster_version(self.kube)
        if version is None:
            self.seen.say("cv", "cluster: waiting for the API and ClusterVersion", self.report)
            return False
        if (
            condition_is(version, "Available")
            and condition_is(version, "Progressing", "False")
            and not condition_is(version, "Failing")
        ):
            desired = (version.get("status") or {}).get("desired", {}).get("version", "")
            self.report(f"cluster: installed {desired}".rstrip())
            return True
        message = conditions(version).get("Progressing", {}).get("message", "")
        match = PROGRESS.search(message)
        percent = f"{match.group(3)}% ({match.group(1)} of {match.group(2)})" if match else "starting"
        operators = cluster_operators(self.kube)
        available = sum(1 for o in operators if condition_is(o, "Available"))
        progressing = sum(1 for o in operators if condition_is(o, "Progressing"))
        degraded = sum(1 for o in operators if condition_is(o, "Degraded"))
        nodes = ready_nodes(self.kube)
        node_text = f"nodes {nodes[0]}/{self.settings.expected_nodes} Ready" if nodes else "nodes ?"
        self.seen.say(
            "cv",
            f"cluster: {_bar(match)} {percent} · operators {available}/{len(operators)} available, "
            f"{progressing} progressing, {degraded} degraded · {node_text}",
            self.report,
        )
        now = self.clock()
        if condition_is(version, "Failing"):
            failing = conditions(version)["Failing"].get("message", "")
            self._failing_since = self._failing_since or now
            lasted = now - self._failing_since
            self.seen.say(
                "failing",
                f"cluster: Failing: {failing} "
                f"(fatal only after {self.settings.failing_grace / 60:.0f} min; installs recover)",
                self.report,
            )
            if lasted > self.settings.failing_grace:
                raise InstallFailed(
                    f"the install has been failing for {lasted / 60:.0f} min: {failing}",
                    self._operator_hint(),
                    "install",
                )
        elif self._failing_since is not None:
            self._failing_since = None
            self.seen.lines.pop("failing", None)
            self.report("cluster: no longer failing")
        return False

    def _operator_hint(self) -> str:
        lines = unhealthy_operators(cluster_operators(self.kube))
        return "unhealthy operators:\n    " + "\n    ".join(lines) if lines else "see 'oc get clusterversion'"

    def _time_out(self, stage: str) -> NoReturn:
        minutes = self.settings.timeout / 60
        if stage == "bootstrap":
            raise InstallFailed(
                f"bootstrap did not complete within {minutes:.0f} min",
                f"'proxshift wait {self.settings.cluster}' picks up where this left off",
                "bootstrap",
            )
        raise InstallFailed(
            f"the install did not complete within {minutes:.0f} min",
            self._operator_hint() + f"\n  resume with 'proxshift wait {self.settings.cluster}'",
            "install",
        )


def _bar(match: re.Match[str] | None, width: int = 20) -> str:
    filled = int(width * int(match.group(3)) / 100) if match else 0
    return "[" + "#" * filled + "." * (width - filled) + "]"
