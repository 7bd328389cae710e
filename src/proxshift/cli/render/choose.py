"""Choosing a view for a run (--json, a terminal, a pipe), and ending a failed run's stream with its error."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from proxshift.cli.render.common import Renderer
from proxshift.engine.events import error_event

if TYPE_CHECKING:
    from proxshift.cli.console import UI


@contextlib.contextmanager
def renderer(ui: UI, as_json: bool = False, clusters: Sequence[str] = ()) -> Iterator[Renderer]:
    """--json: JSON lines on stdout; else live on a terminal, plain lines when stderr is piped. `clusters`: the
    runs to come (several: one row each on a terminal, each plain line tagged with its cluster)."""
    chosen: Renderer
    if as_json:
        from proxshift.cli.render.jsonl import JsonRenderer

        chosen = JsonRenderer(ui.stdout)
    elif ui.plain:
        from proxshift.cli.render.plain import PlainRenderer

        chosen = PlainRenderer(ui.stderr, tag_clusters=len(clusters) > 1)
    else:
        from proxshift.cli.render.live import LiveRenderer

        chosen = LiveRenderer(ui.err, clusters=clusters)
    try:
        yield chosen
    finally:
        chosen.close()


@contextlib.contextmanager
def ending_with_error(report: Renderer, cluster: str = "") -> Iterator[None]:
    """A run that fails reports why as its last event, then the error goes on to the boundary."""
    try:
        yield
    except (Exception, KeyboardInterrupt) as exc:
        report(error_event(exc, cluster))
        raise
