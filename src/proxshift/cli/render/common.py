"""What the views share: the Renderer protocol, the phase line, the end-of-run lines, units and times."""

from __future__ import annotations

import shlex
from typing import ClassVar, Protocol

from proxshift.engine.events import Event, HostState, PhaseFinished, PhaseSkipped, PhaseStarted, Summary

SYMBOL = {
    "done": "✓",
    "running": "▶",
    "skipped": "↷",
    "failed": "✗",
    "interrupted": "■",
    "pending": "·",
}


class Renderer(Protocol):
    """Shows a run's events; `ignores` lists the kinds it shows nothing for, on purpose."""

    ignores: ClassVar[frozenset[type[Event]]]

    def __call__(self, event: Event, /) -> None: ...

    def close(self) -> None: ...


def phase_line(event: PhaseStarted | PhaseFinished | PhaseSkipped) -> str:
    """`✓ vms          done (12.3 s)`, `↷ acm          skipped: not selected`: the same in both human views."""
    match event:
        case PhaseStarted():
            status, tail = "running", (f" (limit {minutes(event.timeout)})" if event.timeout else "")
        case PhaseFinished():
            status, tail = event.status, f" ({event.seconds:.1f} s)"
        case PhaseSkipped():
            status, tail = "skipped", f": {event.reason}"
    return f"{SYMBOL[status]} {event.phase:<12} {status}{tail}"


def summary_lines(event: Summary) -> list[str]:
    """The end of a successful run, as `openshift-install` ends one: time, console, API, how to use it.
    "provisioned" only when every phase of the cluster is done; else what this run did and what is left."""
    rest = f"proxshift {event.command} {event.cluster}" + (f" --from {event.resume_from}" if event.resume_from else "")
    if not event.provisioned:
        did = ", ".join(event.ran) if event.ran else "no phase"
        return [
            f"{event.cluster}: {did} done in {clock_text(event.seconds)}; not done yet: {', '.join(event.remaining)}",
            f"  the rest: {rest}",
        ]
    lines = [
        f"{event.cluster} {event.verb} in {clock_text(event.seconds)}",
        f"  console:     {event.console_url or '(see proxshift credentials)'}",
        f"  API:         {event.api_url or '-'}",
        f"  credentials: Vault {event.credentials} (proxshift credentials {event.cluster})",
    ]
    if event.kubeconfig:
        lines.append(f"  oc:          export KUBECONFIG={shlex.quote(event.kubeconfig)}")
    if event.unrecorded:
        lines.append(
            f"  not recorded: {', '.join(event.unrecorded)}, which build the cluster; it is installed, so nothing "
            f"is left to do. A re-run: {rest} (without --from, provision would refuse to build it anew)"
        )
    return lines


def host_text(event: HostState) -> str:
    """`master-0: installing · master · Writing image to disk · 45%`: one host's state as one line."""
    values = [value for _, value in event.details if value]
    return f"{event.host}: {event.state}" + "".join(f" · {value}" for value in values)


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def clock_text(seconds: float) -> str:
    """`0:07`, `12:03`, `1:02:03`: elapsed time as a clock."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds % 60 == 0 else clock_text(seconds)
