"""The plain view, for a piped stderr (CI, `| tee`): one line per event, each starting with a UTC timestamp.

No ANSI codes, no line twice in a row for a cluster, no rich. With several clusters at once each line
names its cluster in brackets after the timestamp.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, ClassVar, assert_never

from proxshift.cli.render.common import host_text, mib, phase_line, summary_lines
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


class PlainRenderer:
    """One line per event, each starting with a UTC timestamp; no ANSI codes, no repeated line, no rich."""

    ignores: ClassVar[frozenset[type[Event]]] = frozenset({Error})

    def __init__(
        self,
        stream: IO[str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tag_clusters: bool = False,
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.tag_clusters = tag_clusters
        self._last: dict[str, str] = {}  # per cluster: its last line
        self._tenths: dict[tuple[str, str], int] = {}  # upload progress: printed at each 10 %
        self._hosts: dict[tuple[str, str, str], str] = {}  # a host's line, printed when it changes

    def __call__(self, event: Event, /) -> None:  # noqa: PLR0912 - one case per event kind, read as a table
        match event:
            case RunStarted():
                self._line(event, "provision " + (event.cluster or "") + ": " + " → ".join(event.phases))
            case PhaseStarted() | PhaseFinished() | PhaseSkipped():
                self._line(event, phase_line(event))
            case Log():
                self._line(event, f"    {event.message}")
            case Notice():
                self._line(event, f"warning: {event.message}")
            case Output():
                self._line(event, f"    {event.phase}: {event.line}")
            case Progress():
                tenth = event.done * 10 // max(event.total, 1)
                if tenth != self._tenths.get((event.cluster, event.target)):
                    self._tenths[(event.cluster, event.target)] = tenth
                    self._line(event, f"    {event.target}: {tenth * 10}% of {mib(event.total)}")
            case HostState():
                text = host_text(event)
                if self._hosts.get((event.cluster, event.phase, event.host)) != text:
                    self._hosts[(event.cluster, event.phase, event.host)] = text
                    self._line(event, f"    {text}")
            case Summary():
                first, *rest = summary_lines(event)
                self._line(event, f"✓ {first}")
                for line in rest:
                    self._line(event, line)
            case Error():
                pass  # in `ignores`
            case _:
                assert_never(event)

    def _line(self, event: Event, text: str) -> None:
        if text == self._last.get(event.cluster):
            return
        self._last[event.cluster] = text
        stamp = self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        tag = f"[{event.cluster}] " if self.tag_clusters and event.cluster else ""
        self.stream.write(f"{stamp} {tag}{text}\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
