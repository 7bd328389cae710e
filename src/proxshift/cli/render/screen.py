"""The live view's drawing: one run as its phase list, several runs as one row each (rich, imported lazily).

Every piece of remote text (openshift-install's output, a host's stage) goes into a `Text` as it is, never
through rich's markup parser.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from proxshift.cli.render.common import SYMBOL, clock_text, minutes
from proxshift.cli.render.runs import HostView, PhaseView, RunView

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
STYLE = {"done": "green", "skipped": "dim", "failed": "red", "interrupted": "yellow", "pending": "dim"}


def spinner(now: float) -> str:
    return FRAMES[int(now * 10) % len(FRAMES)]


def _symbol(status: str, now: float) -> str:
    return spinner(now) if status == "running" else SYMBOL[status]


def phase_row(view: PhaseView, run: RunView, now: float, width: int) -> Text:
    """`  ✓ manifests    0.4 s`, `  ⠋ wait         3:12 of 120 min (until 14:32)  bootstrap: cluster installing 40%`."""
    from rich.text import Text

    text = Text(f"  {_symbol(view.status, now)} ", style="cyan" if view.status == "running" else STYLE[view.status])
    text.append(f"{view.name:<12} ", style="bold" if view.status == "running" else "")
    if view.status == "running":
        text.append(clock_text(now - view.began))
        if view.timeout and view.deadline:
            until = datetime.fromtimestamp(view.deadline).strftime("%H:%M")
            text.append(f" of {minutes(view.timeout)} (until {until})", style="dim")
        if run.latest:
            text.append(f"  {run.latest}", style="dim")
    elif view.status == "skipped":
        text.append(f"skipped: {view.reason}", style="dim")
    elif view.seconds is not None:
        text.append(f"{view.status} ({view.seconds:.1f} s)" if view.status != "done" else f"{view.seconds:.1f} s")
    text.no_wrap = True
    text.truncate(max(width, 20), overflow="ellipsis")
    return text


def hosts_table(phase: str, hosts: dict[str, HostView], now: float, since: bool = True) -> Table:
    """One row per host: its state, its details as columns, and (since) how long it has been in that state."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    keys: list[str] = []
    for view in hosts.values():
        keys += [key for key, _ in view.event.details if key not in keys]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=f"{phase}: hosts", title_justify="left")
    for column in ("HOST", "STATE", *(key.upper() for key in keys), *(("FOR",) if since else ())):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for name, view in hosts.items():
        details = dict(view.event.details)
        style = "red" if view.event.state.lower().startswith(("fail", "error")) else ""
        cells = [Text(name), Text(view.event.state, style=style), *(Text(details.get(k, "")) for k in keys)]
        table.add_row(*cells, *((Text(clock_text(now - view.since), style="dim"),) if since else ()))
    return table


def one_run(run: RunView, now: float, width: int, height: int) -> list[RenderableType]:
    """The header, the phase list (done phases folded into one line when the screen is short), the hosts."""
    from rich.text import Text

    state = run.outcome or "running"
    head = Text(f"{spinner(now) if run.outcome is None else SYMBOL.get(state, '✗')} ", style="cyan")
    head.append(run.cluster, style="bold")
    head.append(f"  {clock_text(run.elapsed(now))}", style="dim")
    views = list(run.phases.values())
    room = height - 3 - (len(run.hosts) + 4 if run.hosts else 0)
    parts: list[RenderableType] = [head]
    if len(views) > room:
        finished = [v for v in views if v.status in ("done", "skipped")]
        if finished:
            line = Text(f"  {SYMBOL['done']} {len(finished)} phases done or skipped", style="green")
            line.append(f" ({finished[0].name} … {finished[-1].name})", style="dim")
            parts.append(line)
            views = [v for v in views if v not in finished]
    parts += [phase_row(view, run, now, width) for view in views]
    if run.hosts and run.current:
        parts.append(hosts_table(run.current, run.hosts, now))
    return parts


def many_runs(runs: list[RunView], now: float) -> Table:
    """One row per cluster: where it is, how far, for how long, its latest line."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
    table.add_column("", no_wrap=True, width=1)
    for column in ("CLUSTER", "PHASE", "DONE", "ELAPSED"):
        table.add_column(column, no_wrap=True)
    table.add_column("LATEST", no_wrap=True, overflow="ellipsis", ratio=1)
    for run in runs:
        if run.outcome is not None:
            symbol, where = SYMBOL.get(run.outcome, "✗"), run.outcome
            style = STYLE.get(run.outcome, "red")
        elif run.began is None:
            symbol, where, style = SYMBOL["pending"], "waiting", "dim"
        else:
            symbol, where, style = spinner(now), run.current or "", "cyan"
        table.add_row(
            Text(symbol, style=style),
            Text(run.cluster, style="bold"),
            Text(where, style=style if run.outcome else ""),
            f"{run.done_count}/{len(run.phases)}" if run.phases else "",
            clock_text(run.elapsed(now)) if run.began is not None else "",
            Text(run.latest if run.outcome is None else "", style="dim"),
        )
    return table
