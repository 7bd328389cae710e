"""The three views of a run's events (live on a terminal, plain timestamped lines, --json) and the plan's text.

Each renderer matches every event kind; mypy's exhaustiveness check (`assert_never`) fails when one is
missing. What a view ignores on purpose is listed in its `ignores`: the two human views leave `Error` to
the error boundary (cli/main.py), which prints it on stderr once the view is closed.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, ClassVar, Protocol, assert_never

from proxshift.engine.events import (
    Error,
    Event,
    Log,
    Notice,
    Output,
    PhaseFinished,
    PhaseSkipped,
    PhaseStarted,
    Progress,
    Summary,
)
from proxshift.errors import ExitCode, ProxshiftError

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live
    from rich.progress import Progress as Bars
    from rich.progress import TaskID
    from rich.spinner import Spinner

    from proxshift.cli.console import UI
    from proxshift.engine.phases.base import PhasePlan

SYMBOL = {"done": "✓", "running": "▶", "skipped": "↷", "failed": "✗", "interrupted": "■"}


class Renderer(Protocol):
    ignores: ClassVar[frozenset[type[Event]]]

    def __call__(self, event: Event, /) -> None: ...

    def close(self) -> None: ...


def phase_line(event: PhaseStarted | PhaseFinished | PhaseSkipped) -> str:
    """`✓ vms          done (12.3 s)`, `↷ acm          skipped: not selected`: the same in both human views."""
    match event:
        case PhaseStarted():
            status, tail = "running", ""
        case PhaseFinished():
            status, tail = event.status, f" ({event.seconds:.1f} s)"
        case PhaseSkipped():
            status, tail = "skipped", f": {event.reason}"
    return f"{SYMBOL[status]} {event.phase:<12} {status}{tail}"


def summary_lines(event: Summary) -> list[str]:
    """The end of a run: "provisioned" only when every phase of the cluster is done; else what this run did."""
    minutes = f"{event.seconds / 60:.1f} min"
    if not event.provisioned:
        did = ", ".join(event.ran) if event.ran else "no phase"
        return [
            f"{event.cluster}: {did} done in {minutes}; not done yet: {', '.join(event.remaining)}",
            f"  the rest: proxshift {event.command} {event.cluster}",
        ]
    return [
        f"{event.cluster} {event.verb} in {minutes}",
        f"  console:     {event.console_url or '(see proxshift credentials)'}",
        f"  API:         {event.api_url or '-'}",
        f"  credentials: Vault {event.credentials} (proxshift credentials {event.cluster})",
    ]


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


# -- plain: piped stderr -----------------------------------------------------------------------------------


class PlainRenderer:
    """One line per event, each starting with a UTC timestamp; no ANSI codes, no repeated line, no rich."""

    ignores: ClassVar[frozenset[type[Event]]] = frozenset({Error})

    def __init__(self, stream: IO[str], clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.stream = stream
        self.clock = clock
        self._last = ""
        self._tenths: dict[str, int] = {}  # upload progress: printed at each 10 %

    def __call__(self, event: Event, /) -> None:
        match event:
            case PhaseStarted() | PhaseFinished() | PhaseSkipped():
                self._line(phase_line(event))
            case Log():
                self._line(f"    {event.message}")
            case Notice():
                self._line(f"warning: {event.message}")
            case Output():
                self._line(f"    {event.phase}: {event.line}")
            case Progress():
                tenth = event.done * 10 // max(event.total, 1)
                if tenth != self._tenths.get(event.target):
                    self._tenths[event.target] = tenth
                    self._line(f"    {event.target}: {tenth * 10}% of {_mib(event.total)}")
            case Summary():
                first, *rest = summary_lines(event)
                self._line(f"✓ {first}")
                for line in rest:
                    self._line(line)
            case Error():
                pass  # in `ignores`
            case _:
                assert_never(event)

    def _line(self, text: str) -> None:
        if text == self._last:
            return
        self._last = text
        stamp = self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.stream.write(f"{stamp} {text}\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


# -- --json: stdout ----------------------------------------------------------------------------------------


def json_fields(event: Event) -> dict[str, Any]:  # noqa: PLR0911 - one case per event kind, read as a table
    """The documented --json form of each event (docs/provisioning.md), without `time`."""
    match event:
        case PhaseStarted():
            return {"event": "phase", "phase": event.phase, "status": "running"}
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
        case Summary():
            return {
                "event": "summary",
                "cluster": event.cluster,
                "console": event.console_url,
                "api": event.api_url,
                "credentials": event.credentials,
                "seconds": round(event.seconds, 1),
                "ran": list(event.ran),
                "remaining": list(event.remaining),
            }
        case Error():
            return {"event": "error", "message": event.message, "hint": event.hint, "exit_code": event.exit_code}
        case _:
            assert_never(event)


class JsonRenderer:
    """One JSON object per line on stdout: `event` (the kind), `time` (Unix seconds), then the kind's fields."""

    ignores: ClassVar[frozenset[type[Event]]] = frozenset()

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.time) -> None:
        self.stream = stream
        self.clock = clock

    def __call__(self, event: Event, /) -> None:
        fields = json_fields(event)
        payload = {"event": fields.pop("event"), "time": round(self.clock(), 3), **fields}
        self.stream.write(json.dumps(payload) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


# -- live: a terminal --------------------------------------------------------------------------------------


class LiveRenderer:
    """Phase lines as they finish; the phase in progress under a spinner with its elapsed time and the latest
    line of openshift-install's output; the ISO upload as progress bars. Remote text is never read as markup."""

    ignores: ClassVar[frozenset[type[Event]]] = frozenset({Error})

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.clock = clock
        self._live: Live | None = None  # while a phase runs
        self._spinner: Spinner | None = None
        self._phase = ""
        self._began = 0.0
        self._latest = ""
        self._bars: Bars | None = None
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, event: Event, /) -> None:
        match event:
            case PhaseStarted():
                self._start(event.phase)
            case PhaseFinished():
                self.close()
                self._print(phase_line(event), style={"done": "green"}.get(event.status, "red"))
            case PhaseSkipped():
                self._print(phase_line(event), style="dim")
            case Log():
                self._print(f"    {event.message}")
            case Notice():
                self._print(f"warning: {event.message}", style="yellow")
            case Output():
                self._latest = event.line
                self._refresh()
            case Progress():
                self._progress(event)
                self._refresh()
            case Summary():
                first, *rest = summary_lines(event)
                self._print(f"✓ {first}", style="green")
                for line in rest:
                    self._print(line)
            case Error():
                pass  # in `ignores`
            case _:
                assert_never(event)

    def _print(self, text: str, style: str | None = None) -> None:
        self.console.print(text, style=style, markup=False, highlight=False, emoji=False)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def _start(self, phase: str) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        self.close()
        self._phase, self._began, self._latest = phase, self.clock(), ""
        self._spinner = Spinner("dots", style="cyan")
        self._live = Live(_Renderable(self.render), console=self.console, refresh_per_second=8, transient=True)
        self._live.start()

    def _progress(self, event: Progress) -> None:
        from rich.progress import BarColumn, DownloadColumn, TimeRemainingColumn, TransferSpeedColumn
        from rich.progress import Progress as Bars

        if self._bars is None:
            self._bars = Bars(
                "{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()
            )
        if event.target not in self._tasks:
            self._tasks[event.target] = self._bars.add_task(event.target, total=event.total)
        self._bars.update(self._tasks[event.target], completed=event.done)

    def render(self) -> RenderableType:
        """What the live area shows now: the spinner line, then any upload bars."""
        from rich.console import Group
        from rich.text import Text

        elapsed = int(self.clock() - self._began)
        text = Text(f"{self._phase} {elapsed // 60}:{elapsed % 60:02d}")
        if self._latest:
            text.append(f"  {self._latest}", style="dim")
        text.truncate(max(self.console.width - 4, 20), overflow="ellipsis")
        assert self._spinner is not None  # noqa: S101 - render runs only while a phase runs
        self._spinner.update(text=text)
        parts: list[RenderableType] = [self._spinner]
        if self._bars is not None:
            parts.append(self._bars.get_renderable())
        return Group(*parts)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
        self._live, self._spinner, self._bars, self._tasks = None, None, None, {}


class _Renderable:
    """Calls back for what to draw at each refresh (so elapsed time moves with no event)."""

    def __init__(self, draw: Callable[[], RenderableType]) -> None:
        self.draw = draw

    def __rich__(self) -> RenderableType:
        return self.draw()


# -- choosing one, and ending the stream -------------------------------------------------------------------


@contextlib.contextmanager
def renderer(ui: UI, as_json: bool = False) -> Iterator[Renderer]:
    """--json: JSON lines on stdout; else live on a terminal, plain lines when stderr is piped."""
    chosen: Renderer
    if as_json:
        chosen = JsonRenderer(ui.stdout)
    elif ui.plain:
        chosen = PlainRenderer(ui.stderr)
    else:
        chosen = LiveRenderer(ui.err)
    try:
        yield chosen
    finally:
        chosen.close()


def error_event(exc: BaseException) -> Error:
    """The event a failed run ends with: what the error boundary (cli/main.py) prints for the same error."""
    if isinstance(exc, ProxshiftError):
        return Error(exc.message, exc.hint, int(exc.exit_code))
    if isinstance(exc, KeyboardInterrupt):
        return Error("interrupted", None, int(ExitCode.INTERRUPTED))
    return Error(
        f"unexpected {type(exc).__name__} inside proxshift",
        "run again with --debug for the traceback, and report it",
        int(ExitCode.FAILED),
    )


@contextlib.contextmanager
def ending_with_error(report: Renderer) -> Iterator[None]:
    """A run that fails reports why as its last event, then the error goes on to the boundary."""
    try:
        yield
    except (Exception, KeyboardInterrupt) as exc:
        report(error_event(exc))
        raise


# -- the dry-run plan as text ------------------------------------------------------------------------------


def plan_text(plans: list[PhasePlan]) -> str:
    """`== phase` per section, then its details: VMs one per line, manifests and hub documents as YAML."""
    out: list[str] = []
    for plan in plans:
        out.append(f"== {plan.phase}{' (done before)' if plan.previously_done else ''}")
        for key, value in plan.details.items():
            out.extend(_detail(key, value))
    return "".join(f"{line}\n" for line in out)


def _detail(key: str, value: Any) -> list[str]:
    lines: list[str] = []
    if key == "manifests":
        for name, text in value.items():
            lines += [f"  {name}:", *(f"    {line}" for line in text.splitlines())]
    elif key == "vms":
        for vm in value:
            lines += _vm_lines(vm)
    elif key == "documents":
        import yaml

        for document in value:
            lines += ["  ---", *(f"  {line}" for line in yaml.safe_dump(document, sort_keys=False).splitlines())]
    elif isinstance(value, list):
        lines += [f"  {key}:", *(f"    - {item}" for item in value)]
    else:
        lines.append(f"  {key}: {value}")
    return lines


def _vm_lines(vm: str | dict[str, Any]) -> list[str]:
    if isinstance(vm, str):  # the start phase names the VMs it starts
        return [f"  start {vm}"]
    lines = [f"  {vm['action']:<10} {vm['host']} (vmid {vm['vmid']} on {vm['node']}): {vm['reason']}"]
    lines.extend(f"             {difference}" for difference in vm["drift"])
    if vm["action"] in ("create", "recreate"):
        lines.extend(f"             {k}={v}" for k, v in vm["params"].items())
    return lines
