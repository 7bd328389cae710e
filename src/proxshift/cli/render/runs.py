"""What the live view knows of each run, updated by its events; plain data, drawn by cli/render/screen.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from proxshift.cli.render.common import host_text
from proxshift.engine.events import Error, HostState, PhaseFinished, PhaseSkipped, PhaseStarted, RunStarted, Summary


@dataclass
class PhaseView:
    name: str
    status: str = "pending"  # pending, running, done, failed, interrupted, skipped
    began: float = 0.0
    seconds: float | None = None
    timeout: float | None = None
    deadline: float | None = None  # wall-clock time (Unix seconds) the phase gives up at
    reason: str = ""


@dataclass
class HostView:
    event: HostState
    since: float  # when its state last changed


@dataclass
class RunView:
    """One cluster's run: its phases, the one in progress, that phase's hosts, its latest line, how it ended."""

    cluster: str
    phases: dict[str, PhaseView] = field(default_factory=dict)
    began: float | None = None
    ended: float | None = None
    current: str | None = None
    latest: str = ""  # the latest line of openshift-install, or of the running phase
    hosts: dict[str, HostView] = field(default_factory=dict)
    outcome: str | None = None  # done, failed (exit N), interrupted

    def started(self, event: RunStarted, now: float) -> None:
        self.phases = {name: PhaseView(name) for name in event.phases}
        self.began = self.began if self.began is not None else now

    def phase_started(self, event: PhaseStarted, now: float, wall: float) -> None:
        view = self.phases.setdefault(event.phase, PhaseView(event.phase))
        view.status, view.began, view.timeout = "running", now, event.timeout
        view.deadline = wall + event.timeout if event.timeout else None
        self.began = self.began if self.began is not None else now
        self.current, self.latest, self.hosts = event.phase, "", {}

    def phase_finished(self, event: PhaseFinished) -> None:
        view = self.phases.setdefault(event.phase, PhaseView(event.phase))
        view.status, view.seconds = event.status, event.seconds
        if self.current == event.phase:
            self.current = None

    def phase_skipped(self, event: PhaseSkipped) -> None:
        view = self.phases.setdefault(event.phase, PhaseView(event.phase))
        view.status, view.reason = "skipped", event.reason

    def host(self, event: HostState, now: float) -> None:
        known = self.hosts.get(event.host)
        moved = known is None or known.event.state != event.state
        self.hosts[event.host] = HostView(event, now if moved or known is None else known.since)
        self.latest = host_text(event)

    def finished(self, event: Summary | Error, now: float) -> None:
        self.ended = now
        if isinstance(event, Summary):
            self.outcome = "done"
        elif event.exit_code == 130:
            self.outcome = "interrupted"
        else:
            self.outcome = f"failed (exit {event.exit_code})"

    @property
    def done_count(self) -> int:
        return sum(1 for p in self.phases.values() if p.status in ("done", "skipped"))

    def elapsed(self, now: float) -> float:
        if self.began is None:
            return 0.0
        return (self.ended if self.ended is not None else now) - self.began
