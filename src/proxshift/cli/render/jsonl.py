"""The --json view: one JSON object per line on stdout, in the form docs/provisioning.md documents."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import IO, Any, ClassVar, assert_never

from proxshift.engine.events import (
    Error,
    Event,
    HostState,
    Log,
    Notice,
    Output,
    PhaseFinished,
    PhaseSkipped,
    PhaseStarted,
    Progress,
    RunStarted,
    Summary,
)


def json_fields(event: Event) -> dict[str, Any]:  # noqa: PLR0911 - one case per event kind, read as a table
    """The documented --json form of each event (docs/provisioning.md), without `time` and `cluster`."""
    match event:
        case RunStarted():
            return {"event": "run", "phases": list(event.phases)}
        case PhaseStarted():
            return {"event": "phase", "phase": event.phase, "status": "running", "timeout": event.timeout}
        case PhaseFinished():
            return {"event": "phase", "phase": event.phase, "status": event.status, "seconds": event.seconds}
        case PhaseSkipped():
            return {"event": "phase", "phase": event.phase, "status": "skipped", "reason": event.reason}
        case Log():
            return {"event": "log", "phase": event.phase, "message": event.message}
        case Notice():
            return {"event": "warning", "message": event.message}
        case Output():
            return {"event": "output", "phase": event.phase, "line": event.line}
        case Progress():
            fields = {"phase": event.phase, "target": event.target, "bytes": event.done, "total": event.total}
            return {"event": "progress", **fields}
        case HostState():
            details = dict(event.details)
            return {"event": "host", "phase": event.phase, "host": event.host, "state": event.state, "details": details}
        case Summary():
            return {
                "event": "summary",
                "console": event.console_url,
                "api": event.api_url,
                "credentials": event.credentials,
                "kubeconfig": event.kubeconfig,
                "seconds": round(event.seconds, 1),
                "ran": list(event.ran),
                "remaining": list(event.remaining),
                "unrecorded": list(event.unrecorded),
                "resume_from": event.resume_from,
            }
        case Error():
            return {"event": "error", "message": event.message, "hint": event.hint, "exit_code": event.exit_code}
        case _:
            assert_never(event)


class JsonRenderer:
    """One JSON object per line on stdout: `event` (the kind), `time` (Unix seconds), `cluster`, then the kind's
    fields."""

    ignores: ClassVar[frozenset[type[Event]]] = frozenset()

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.time) -> None:
        self.stream = stream
        self.clock = clock

    def __call__(self, event: Event, /) -> None:
        fields = json_fields(event)
        kind = fields.pop("event")
        payload = {"event": kind, "time": round(self.clock(), 3), "cluster": event.cluster or None, **fields}
        self.stream.write(json.dumps(payload) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
