"""The end of a run of several clusters: one row per cluster (how it ended, in how long, where to go next)."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from proxshift.cli.render.common import SYMBOL, clock_text

if TYPE_CHECKING:
    from proxshift.cli.console import UI
    from proxshift.engine.fleet import Outcome


def outcome_rows(outcomes: list[Outcome]) -> list[tuple[str, str, str, str]]:
    """(symbol, cluster, result and time, details): the console and `export KUBECONFIG=`, or the error and hint."""
    rows = []
    for outcome in outcomes:
        if outcome.summary is not None:
            summary = outcome.summary
            details = [summary.console_url or "(see proxshift credentials)"]
            if summary.kubeconfig:
                details.append(f"export KUBECONFIG={shlex.quote(summary.kubeconfig)}")
            rows.append((SYMBOL["done"], outcome.cluster, f"done in {clock_text(outcome.seconds)}", "\n".join(details)))
            continue
        error = outcome.error
        interrupted = outcome.exit_code == 130
        result = "interrupted" if interrupted else f"failed (exit {outcome.exit_code})"
        details = [error.message] if error else []
        if error and error.hint:
            details.append(f"hint: {error.hint}")
        symbol = SYMBOL["interrupted" if interrupted else "failed"]
        rows.append((symbol, outcome.cluster, f"{result} after {clock_text(outcome.seconds)}", "\n".join(details)))
    return rows


def show_outcomes(ui: UI, outcomes: list[Outcome]) -> None:
    """On stderr, with the run's view: a table on a terminal, timestamped lines when piped."""
    rows = outcome_rows(outcomes)
    if ui.plain:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for symbol, cluster, result, details in rows:
            ui.stderr.write(f"{stamp} {symbol} {cluster}: {result}\n")
            ui.stderr.writelines(f"{stamp}     {line}\n" for line in details.splitlines())
        ui.stderr.flush()
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("", "CLUSTER", "RESULT", "CONSOLE, KUBECONFIG OR ERROR"):
        table.add_column(column, overflow="fold")
    for symbol, cluster, result, details in rows:
        style = "green" if symbol == SYMBOL["done"] else "red"
        table.add_row(Text(symbol, style=style), Text(cluster, style="bold"), Text(result, style=style), Text(details))
    ui.err.print(table)
