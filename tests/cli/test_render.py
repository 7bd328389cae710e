"""The three views of a run's events: every event kind in each, plain timestamped lines, JSON as documented."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from proxshift.cli.render import (
    JsonRenderer,
    LiveRenderer,
    PlainRenderer,
    Renderer,
    error_event,
    json_fields,
    summary_lines,
)
from proxshift.engine.events import (
    EVENT_TYPES,
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
from proxshift.errors import UserInputError
from tests.conftest import REPO

SAMPLES: dict[type[Event], Event] = {
    PhaseStarted: PhaseStarted("upload"),
    PhaseFinished: PhaseFinished("upload", "done", 1.25),
    PhaseSkipped: PhaseSkipped("acm", "not configured: no ACM hub is configured"),
    Log: Log("wait", "event: disk [/dev/sda] is [bold]slow[/bold]"),
    Notice: Notice("proxmox.verify_ssl is false"),
    Output: Output("iso", 'level=info msg="Generated ISO at [/tmp/x]"'),
    Progress: Progress("upload", "pve1:local:iso/a.iso", 512 * 2**20, 1024 * 2**20),
    Summary: Summary("c", "https://console", "https://api:6443", "secrets/data/openshift/c", 90.0),
    Error: Error("it broke", "fix it", 1),
}
CLOCK = datetime(2025, 6, 1, 12, 0, 3, tzinfo=UTC)
STAMP = r"2025-06-01T12:00:03Z "


def _views() -> dict[str, tuple[Renderer, io.StringIO]]:
    from rich.console import Console

    plain, js, live = io.StringIO(), io.StringIO(), io.StringIO()
    console = Console(file=live, force_terminal=True, width=100)
    return {
        "plain": (PlainRenderer(plain, clock=lambda: CLOCK), plain),
        "json": (JsonRenderer(js, clock=lambda: 1748779203.0), js),
        "live": (LiveRenderer(console), live),
    }


def test_the_samples_cover_every_event_kind() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES)


@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda kind: kind.__name__)
@pytest.mark.parametrize("view", ["plain", "json", "live"])
def test_every_view_shows_every_kind_or_ignores_it_on_purpose(view: str, kind: type[Event]) -> None:
    render, stream = _views()[view]
    before = 0
    if kind in (Output, Progress):
        render(PhaseStarted("iso"))  # the live view shows them under the running phase
        before = len(stream.getvalue())
    render(SAMPLES[kind])
    render.close()
    shown = stream.getvalue()[before:]
    if kind in render.ignores:
        assert shown == "", shown
    else:
        assert shown.strip(), f"{view} shows nothing for {kind.__name__}"


def test_plain_lines_are_timestamped_once_each_without_codes() -> None:
    stream = io.StringIO()
    render = PlainRenderer(stream, clock=lambda: CLOCK)
    for event in (
        PhaseStarted("upload"),
        *(Progress("upload", "pve1:iso/a.iso", done, 100) for done in range(0, 101, 5)),
        Log("upload", "a.iso on pve1: uploaded"),
        Log("upload", "a.iso on pve1: uploaded"),
        PhaseFinished("upload", "done", 1.25),
        SAMPLES[Log],
        SAMPLES[Error],
    ):
        render(event)
    lines = stream.getvalue().splitlines()
    assert all(re.match(STAMP, line) for line in lines), lines
    assert "\x1b" not in stream.getvalue()
    texts = [line[len("2025-06-01T12:00:03Z ") :] for line in lines]
    assert texts == [
        "▶ upload       running",
        *(f"    pve1:iso/a.iso: {percent}% of 0.0 MiB" for percent in range(0, 101, 10)),
        "    a.iso on pve1: uploaded",
        "✓ upload       done (1.2 s)",
        "    event: disk [/dev/sda] is [bold]slow[/bold]",
    ]


def test_plain_view_needs_no_rich() -> None:
    code = (
        "import io, sys\n"
        "from proxshift.cli.render import PlainRenderer\n"
        "from tests.cli.test_render import SAMPLES\n"
        "render = PlainRenderer(io.StringIO())\n"
        "for event in SAMPLES.values(): render(event)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'rich'], 'rich imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_live_view_prints_remote_text_literally_and_shows_the_latest_output() -> None:
    from rich.console import Console

    stream = io.StringIO()
    render = LiveRenderer(Console(file=stream, force_terminal=True, width=100, color_system=None))
    render(PhaseStarted("iso"))
    render(Output("iso", "level=info msg=[bold]extracting[/bold]"))
    screen = io.StringIO()
    Console(file=screen, width=100).print(render.render())
    assert "iso 0:00  level=info msg=[bold]extracting[/bold]" in screen.getvalue()
    render(SAMPLES[Log])
    render(PhaseFinished("iso", "done", 3.0))
    render.close()
    out = stream.getvalue()
    assert "    event: disk [/dev/sda] is [bold]slow[/bold]" in out
    assert "✓ iso          done (3.0 s)" in out


def test_json_lines_carry_kind_time_and_the_documented_fields() -> None:
    stream = io.StringIO()
    render = JsonRenderer(stream, clock=lambda: 1748779203.0)
    for event in SAMPLES.values():
        render(event)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "phase",
        "phase",
        "phase",
        "log",
        "warning",
        "output",
        "progress",
        "summary",
        "error",
    ]
    assert all(line["time"] == 1748779203.0 for line in lines)
    assert lines[-1] == {
        "event": "error",
        "time": 1748779203.0,
        "message": "it broke",
        "hint": "fix it",
        "exit_code": 1,
    }
    emitted: dict[str, set[str]] = {}
    for event in SAMPLES.values():
        fields = json_fields(event)
        emitted.setdefault(fields.pop("event"), set()).update(fields)
    assert emitted == _documented_fields(), "docs/provisioning.md's --json table must list each kind's fields"


def _documented_fields() -> dict[str, set[str]]:
    """docs/provisioning.md's --json table: the kind, then the field names in backticks (before any colon)."""
    text = (REPO / "docs" / "provisioning.md").read_text()
    table = text.split("| `event` | fields | when |\n|---|---|---|\n", 1)[1].split("\n\n", 1)[0]
    fields: dict[str, set[str]] = {}
    for row in table.splitlines():
        kind, names = row.strip("|").split("|")[:2]
        found = {m.group(1) for m in re.finditer(r"`([a-z_]+)`(?!\s*/)", names) if not _is_value(names, m.start())}
        fields.setdefault(kind.strip().strip("`"), set()).update(found)
    return fields


def _is_value(cell: str, at: int) -> bool:
    """`status`: `done`: the names after a colon are values, not fields."""
    before = cell[:at].rstrip()
    return before.endswith(":") or before.endswith("/")


def test_error_event_matches_what_the_boundary_prints() -> None:
    assert error_event(UserInputError("bad", "fix")) == Error("bad", "fix", 2)
    assert error_event(KeyboardInterrupt()) == Error("interrupted", None, 130)
    assert error_event(ValueError("secret")) == Error(
        "unexpected ValueError inside proxshift", "run again with --debug for the traceback, and report it", 1
    )


def test_the_last_line_says_provisioned_only_when_every_phase_is_done() -> None:
    """Fault issue, item 9: `--only preflight` and `--skip wait` ended in "✓ provisioned"."""
    partial = Summary("c", None, None, "secrets/data/openshift/c", 6.0, ("preflight",), ("manifests", "iso", "acm"))
    assert summary_lines(partial) == [
        "c: preflight done in 0.1 min; not done yet: manifests, iso, acm",
        "  the rest: proxshift provision c",
    ]
    done = Summary("c", "https://console", "https://api:6443", "secrets/data/openshift/c", 90.0, ("acm",), ())
    assert summary_lines(done)[0] == "c provisioned in 1.5 min"
    fields = json_fields(partial)
    assert (fields["ran"], fields["remaining"]) == (["preflight"], ["manifests", "iso", "acm"])
