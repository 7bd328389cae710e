"""The live view, for a terminal: one display redrawn in place, what happened scrolling above it.

One cluster: its phase list (each phase's state and time; the running one under a spinner with its elapsed
time, its deadline when it has one, and the latest line of openshift-install's output), the running phase's
hosts as one table (the VMs, the install's hosts), the ISO upload as progress bars with rate and ETA. The
last frame stays on the screen, then the end of the run: time, console, API, `export KUBECONFIG=...`.
Several clusters: one row each (phase, phases done, elapsed, latest line), the bars, and each line above
names its cluster; the command prints one summary row per cluster at the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, assert_never

from proxshift.cli.render.common import summary_lines
from proxshift.cli.render.runs import RunView
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

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live
    from rich.progress import Progress as Bars
    from rich.progress import TaskID

Line = tuple[str, str | None]  # text and style, printed above the display, never read as markup


class LiveRenderer:
    """The display is drawn from plain state (cli/render/runs.py) that the events update under a lock; lines
    are printed outside it (rich's refresh thread holds its own lock while it draws)."""

    # An Error marks its run failed on the display; its message is the boundary's (or the fleet table's) to print.
    ignores: ClassVar[frozenset[type[Event]]] = frozenset()

    def __init__(
        self,
        console: Console,
        clock: Callable[[], float] = time.monotonic,
        clusters: Sequence[str] = (),
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.console = console
        self.clock = clock
        self.wall = wall
        self.multi = len(clusters) > 1
        self.runs: dict[str, RunView] = {name: RunView(name) for name in clusters}
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._bars: Bars | None = None
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._ended = False

    def __call__(self, event: Event, /) -> None:
        with self._lock:
            lines = self._apply(event)
        if isinstance(event, Summary) and not self.multi:
            self.close()  # the last frame stays; the end of the run goes below it
            self._ended = True
        for text, style in lines:
            self.console.print(text, style=style, markup=False, highlight=False, emoji=False)
        if self._live is None and not self._ended and isinstance(event, (RunStarted, PhaseStarted)):
            self._start()

    def _run(self, event: Event) -> RunView:
        """The run an event belongs to; a run is known from its first RunStarted or PhaseStarted on."""
        if isinstance(event, (RunStarted, PhaseStarted)):
            return self.runs.setdefault(event.cluster, RunView(event.cluster))
        return self.runs.get(event.cluster) or RunView(event.cluster)

    def _apply(self, event: Event) -> list[Line]:  # noqa: PLR0912 - one case per event kind, read as a table
        """Update the state; return the lines to print above the display."""
        now = self.clock()
        run = self._run(event)
        match event:
            case RunStarted():
                run.started(event, now)
            case PhaseStarted():
                run.phase_started(event, now, self.wall())
            case PhaseFinished():
                lines = self._phase_end(run, event)
                run.phase_finished(event)
                return lines
            case PhaseSkipped():
                run.phase_skipped(event)
            case Log():
                run.latest = event.message
                return [(self._prefix(event, f"{event.phase}: ") + event.message, None)]
            case Notice():
                return [("warning: " + self._prefix(event) + event.message, "yellow")]
            case Output():
                run.latest = event.line
            case Progress():
                self._progress(event)
            case HostState():
                run.host(event, now)
            case Summary():
                run.finished(event, now)
                if not self.multi:
                    first, *rest = summary_lines(event)
                    return [(f"✓ {first}", "green"), *((line, None) for line in rest)]
            case Error():
                run.finished(event, now)  # no line: the boundary prints the message
            case _:
                assert_never(event)
        return []

    def _prefix(self, event: Event, rest: str = "") -> str:
        return f"{event.cluster}: {rest}" if self.multi and event.cluster else f"  {rest}" if rest else ""

    def _phase_end(self, run: RunView, event: PhaseFinished) -> list[Line]:
        """One cluster: the phase's last hosts table stays above (the VMs as they ended)."""
        if self._bars is not None:
            for key in [k for k in self._tasks if k[0] == event.cluster]:
                self._bars.remove_task(self._tasks.pop(key))
            if not self._tasks:
                self._bars = None
        if self.multi or not run.hosts:
            return []
        from rich.console import Console

        from proxshift.cli.render.screen import hosts_table

        capture = Console(width=self.console.width, color_system=None, force_terminal=False)
        with capture.capture() as captured:
            capture.print(hosts_table(event.phase, run.hosts, self.clock(), since=False))
        return [(line.rstrip(), "dim") for line in captured.get().splitlines() if line.strip()]

    def _progress(self, event: Progress) -> None:
        from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bars

        if self._bars is None:
            self._bars = Bars(
                TextColumn("  {task.description}", markup=False),
                BarColumn(),
                DownloadColumn(binary_units=True),  # MiB, as everywhere else in proxshift
                TextColumn("{task.fields[rate]}", markup=False),
                TimeRemainingColumn(),
                get_time=self.clock,
            )
        key = (event.cluster, event.target)
        if key not in self._tasks:
            label = f"{event.cluster} {event.target}" if self.multi else event.target
            self._tasks[key] = self._bars.add_task(label, total=event.total, rate="")
        task = self._tasks[key]
        self._bars.update(task, completed=event.done)
        speed = next(t.speed for t in self._bars.tasks if t.id == task)  # rich's measure of recent updates, B/s
        self._bars.update(task, rate=f"{speed / 2**20:.1f} MiB/s" if speed else "")

    def render(self) -> RenderableType:
        """What the display shows now."""
        from rich.console import Group

        from proxshift.cli.render.screen import many_runs, one_run

        with self._lock:
            now = self.clock()
            parts: list[RenderableType] = []
            if self.multi:
                parts.append(many_runs(list(self.runs.values()), now))
            else:
                for run in self.runs.values():
                    parts += one_run(run, now, self.console.width - 2, self.console.height)
            if self._bars is not None:
                parts.append(self._bars.get_renderable())
            return Group(*parts)

    def _start(self) -> None:
        from rich.live import Live

        self._live = Live(
            console=self.console,
            get_renderable=self.render,
            refresh_per_second=8,
            transient=self.multi,  # several clusters: the fleet's summary table replaces the rows
        )
        self._live.start()

    def close(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()
