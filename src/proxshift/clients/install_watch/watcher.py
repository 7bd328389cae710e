"""Follow an agent-based install to the end: assisted-service during bootstrap, then the cluster's API.

Stateless on purpose: every poll reads the current state, so `proxshift wait` can be started,
interrupted and started again at any time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from proxshift.clients.install_watch.agent import AgentApi, AgentUnreachable
from proxshift.clients.install_watch.cluster import (
    KUBE_TIMEOUT,
    PROGRESS,
    bootstrap_complete,
    cluster_operators,
    cluster_version,
    console_url,
    progress_bar,
    ready_nodes,
    unhealthy_operators,
)
from proxshift.clients.kube import Kube, condition_is, conditions
from proxshift.clients.transport import POLL_RETRY, Poller
from proxshift.errors import ExitCode, OperationError

READY_STALL_SECONDS = 60
FAILING_GRACE_SECONDS = 600
RENDEZVOUS_PATIENCE_SECONDS = 600  # the ISO boots in a few minutes; after ten, something is wrong
HEARTBEAT_SECONDS = 60  # at most one "still waiting" line a minute, and only when nothing else was said
EVENTS_ON_START = 10  # a `wait` started mid-install shows the latest events, not the whole history


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
    rendezvous_patience: float = RENDEZVOUS_PATIENCE_SECONDS
    heartbeat: float = HEARTBEAT_SECONDS


@dataclass
class Installed:
    console_url: str | None
    api_url: str
    seconds: float


Report = Callable[[str], None]


@dataclass
class _Seen:
    """What has been said already, so that each line is printed once: a line under a key is printed
    again only when its text changes (so no text may hold something that moves every poll)."""

    lines: dict[str, str] = field(default_factory=dict)
    events: int | None = None  # None: no event read yet
    failing_validations: set[str] = field(default_factory=set)

    def say(self, key: str, text: str, report: Report) -> None:
        if self.lines.get(key) != text:
            self.lines[key] = text
            report(text)

    def once(self, key: str, text: str, report: Report) -> None:
        """Print under a key only the first time, whatever the text (it may name a duration)."""
        if key not in self.lines:
            self.lines[key] = text
            report(text)


def duration(seconds: float) -> str:
    """`45s`, `12m`, `120m`: how long, as the lines say it."""
    seconds = max(0, int(seconds))
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m"


def deadline_text(timeout: float, wall_start: float) -> str:
    """`waiting up to 120m, until 14:05` (local time; with the weekday when that is not today)."""
    until = time.localtime(wall_start + timeout)
    same_day = time.strftime("%Y-%m-%d", until) == time.strftime("%Y-%m-%d", time.localtime(wall_start))
    return f"waiting up to {duration(timeout)}, until {time.strftime('%H:%M' if same_day else '%a %H:%M', until)}"


def _age(stamp: str | None, now: float) -> str:
    """How long a host has been in its stage, for the live table (never in a line: it moves every poll)."""
    if not stamp:
        return ""
    try:
        started = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    except ValueError:
        return ""
    seconds = max(0, int(now - started))
    return f"{seconds // 60}m{seconds % 60:02d}s"


class InstallWatcher:
    """Polls until the cluster is installed, reporting lines as things change.

    A line is printed when what it says changes (a host's status, stage or percentage; the cluster's),
    never because time passed; time is told by a heartbeat at most once a minute, only after a quiet
    minute, with the elapsed time and the deadline. With `on_hosts` (a live view on a terminal) host
    rows go there instead of into the lines, and the live view shows the time, so no heartbeat.
    """

    def __init__(
        self,
        settings: WatchSettings,
        report: Report,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_hosts: Callable[[list[tuple[str, ...]]], None] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._report = report
        self.on_hosts = on_hosts
        self.clock = clock
        self.sleep = sleep
        self.wall = wall
        self.seen = _Seen()
        self.agent = AgentApi(settings.agent_url, settings.watcher_token)
        self._kube: Kube | None = None
        self._ready_since: float | None = None
        self._failing_since: float | None = None
        self._agent_seen = False
        self._agent_down_since: float | None = None
        self._agent_error: AgentUnreachable | None = None
        self._started = 0.0
        self._deadline = ""
        self._last_line = 0.0

    def report(self, text: str) -> None:
        self._last_line = self.clock()
        self._report(text)

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = Kube.from_file(self.settings.kubeconfig, "the cluster", timeout=KUBE_TIMEOUT, retry=POLL_RETRY)
        return self._kube

    def run(self) -> Installed:
        start = self._started = self.clock()
        self._deadline = deadline_text(self.settings.timeout, self.wall())
        poller = Poller(self.settings.timeout, cap=self.settings.poll, first=None, clock=self.clock, sleep=self.sleep)
        stage = "bootstrap"
        if self.on_hosts is None:
            self.report(self._deadline)

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

        installed = poller.until(step, lambda: self._heartbeat(stage))
        if installed is None:
            self._time_out(stage)
        return installed

    def _heartbeat(self, stage: str) -> None:
        """After a quiet minute: how long it has been and until when it waits (and why, if stuck)."""
        now = self.clock()
        if self.on_hosts is not None or not self.settings.heartbeat or now - self._last_line < self.settings.heartbeat:
            return
        text = f"{stage}: {duration(now - self._started)} elapsed, {self._deadline}"
        if not self._agent_seen and self._agent_error is not None and self._agent_down_since is not None:
            waited = duration(now - self._agent_down_since)
            text += f"; the rendezvous host has not answered for {waited} ({self._agent_error.kind})"
        self.report(text)

    # -- bootstrap -------------------------------------------------------------------------------

    def _bootstrap_step(self) -> None:
        now = self.clock()
        try:
            cluster = self.agent.cluster()
        except AgentUnreachable as exc:
            self._agent_unreachable(exc, now)
            return
        if self._agent_down_since is not None:
            self.seen.lines.pop("agent-gone", None)  # a next disappearance is told again
        self._agent_down_since, self._agent_error = None, None
        if cluster is None:
            self.seen.say(
                "agent", f"bootstrap: the rendezvous host {self.agent.where} answers; no cluster yet", self.report
            )
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
            age = _age(progress.get("stage_updated_at"), self.wall()) if stage != "-" else ""
            rows.append((str(name), role, str(host.get("status")), stage, percentage, age))
            if self.on_hosts is None:
                # Status, stage and percentage only: a line per change, not per poll.
                self.seen.say(
                    f"host:{name}", f"  {name} ({role}): {host.get('status')} · {stage} · {percentage}", self.report
                )
            if host.get("stage_timed_out"):
                self.seen.say(f"timeout:{name}", f"  {name}: stage '{stage}' timed out", self.report)
            self._validations(str(name), host.get("validations_info"))
        if self.on_hosts is not None:
            self.on_hosts(rows)
        self._events(str(cluster.get("id")))
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

    def _agent_unreachable(self, error: AgentUnreachable, now: float) -> None:
        """No answer from the rendezvous host: normal once it rebooted into the cluster, worrying before."""
        if self._agent_down_since is None:
            self._agent_down_since = now
        self._agent_error = error
        if self._agent_seen:
            self.seen.once(
                "agent-gone",
                f"bootstrap: the rendezvous host's API is gone ({error.kind}); waiting for the cluster's API",
                self.report,
            )
            self.seen.lines["agent"] = ""  # its next answer, if any, is printed again
            return
        self.seen.say("agent", f"bootstrap: waiting for the rendezvous host {self.agent.where} to come up", self.report)
        waited = now - self._agent_down_since
        if waited >= self.settings.rendezvous_patience:
            self.seen.once(
                f"agent-down:{error.kind}",
                f"bootstrap: the rendezvous host {self.agent.where} has not answered for {duration(waited)} "
                f"({error.kind})",
                self.report,
            )
            self.seen.once("agent-check", f"  {error.hint}", self.report)

    def _events(self, cluster_id: str) -> None:
        try:
            events = self.agent.events(cluster_id)
        except AgentUnreachable:
            return  # the next poll reads them
        if self.seen.events is None:  # a wait started mid-install: the latest few, not the whole history
            self.seen.events = max(0, len(events) - EVENTS_ON_START)
            if self.seen.events:
                self.report(f"  ({self.seen.events} earlier events not shown)")
        for event in events[self.seen.events :]:
            self.report(f"  event: {event.get('message')}")
            self.seen.events += 1

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
            f"cluster: {progress_bar(match)} {percent} · operators {available}/{len(operators)} available, "
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
        within = duration(self.settings.timeout)  # never "within 0 min" for a sub-minute timeout
        resume = f"'proxshift wait {self.settings.cluster}' picks up where this left off"
        if stage == "bootstrap" and not self._agent_seen and self._agent_error is not None:
            raise InstallFailed(
                f"bootstrap did not complete within {within}: the rendezvous host "
                f"{self.agent.where} never answered (last: {self._agent_error.kind})",
                f"{self._agent_error.hint}; then {resume}",
                "bootstrap",
            ) from self._agent_error.__cause__
        if stage == "bootstrap":
            raise InstallFailed(f"bootstrap did not complete within {within}", resume, "bootstrap")
        raise InstallFailed(
            f"the install did not complete within {within}",
            self._operator_hint() + f"\n  resume with 'proxshift wait {self.settings.cluster}'",
            "install",
        )
