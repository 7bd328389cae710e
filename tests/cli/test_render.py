"""The three views of a run's events: every event kind in each, plain timestamped lines, JSON as documented."""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from proxshift.cli.render.common import Renderer, summary_lines
from proxshift.cli.render.jsonl import JsonRenderer, json_fields
from proxshift.cli.render.live import LiveRenderer
from proxshift.cli.render.plain import PlainRenderer
from proxshift.engine.events import (
    EVENT_TYPES,
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
    error_event,
)
from proxshift.errors import UserInputError
from tests.conftest import REPO

SAMPLES: dict[type[Event], Event] = {
    RunStarted: RunStarted(("preflight", "upload", "acm"), cluster="c"),
    PhaseStarted: PhaseStarted("upload"),
    PhaseFinished: PhaseFinished("upload", "done", 1.25),
    PhaseSkipped: PhaseSkipped("acm", "not configured: no ACM hub is configured"),
    Log: Log("wait", "event: disk [/dev/sda] is [bold]slow[/bold]"),
    Notice: Notice("proxmox.verify_ssl is false"),
    Output: Output("iso", 'level=info msg="Generated ISO at [/tmp/x]"'),
    Progress: Progress("upload", "pve1:local:iso/a.iso", 512 * 2**20, 1024 * 2**20),
    HostState: HostState("vms", "master-0", "created", (("vmid", "301"), ("node", "pve2"))),
    Summary: Summary(
        "https://console", "https://api:6443", "secrets/data/openshift/c", 90.0, "/r/ocp_install/c/auth/kubeconfig"
    ),
    Error: Error("it broke", "fix it", 1),
}
CLOCK = datetime(2025, 6, 1, 12, 0, 3, tzinfo=UTC)
STAMP = r"2025-06-01T12:00:03Z "


def _views() -> dict[str, tuple[Renderer, io.StringIO]]:
    from rich.console import Console

    plain, js, live = io.StringIO(), io.StringIO(), io.StringIO()
    # Not a terminal: rich draws the live display once, when it stops, so what it shows is deterministic.
    console = Console(file=live, force_terminal=False, width=100, height=40)
    return {
        "plain": (PlainRenderer(plain, clock=lambda: CLOCK), plain),
        "json": (JsonRenderer(js, clock=lambda: 1748779203.0), js),
        "live": (LiveRenderer(console, clock=lambda: 100.0, wall=lambda: 1748779203.0), live),
    }


PRELUDE: list[Event] = [RunStarted(("preflight", "iso", "upload"), cluster="c"), PhaseStarted("iso", cluster="c")]


def _output(view: str, events: list[Event]) -> tuple[str, Renderer]:
    render, stream = _views()[view]
    for event in events:
        render(event)
    render.close()
    return stream.getvalue(), render


def test_the_samples_cover_every_event_kind() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES)


@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda kind: kind.__name__)
@pytest.mark.parametrize("view", ["plain", "json", "live"])
def test_every_view_shows_every_kind_or_ignores_it_on_purpose(view: str, kind: type[Event]) -> None:
    sample = dataclasses.replace(SAMPLES[kind], cluster="c")
    without, render = _output(view, PRELUDE)
    shown, _ = _output(view, [*PRELUDE, sample])
    if kind in render.ignores:
        assert shown == without, shown
    else:
        assert shown != without, f"{view} shows nothing for {kind.__name__}"


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
        "from proxshift.cli.render.plain import PlainRenderer\n"
        "from tests.cli.test_render import SAMPLES\n"
        "render = PlainRenderer(io.StringIO())\n"
        "for event in SAMPLES.values(): render(event)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'rich'], 'rich imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_live_view_draws_the_phase_list_hosts_and_the_end_of_the_run() -> None:
    from rich.console import Console

    stream = io.StringIO()
    now = [100.0]
    render = LiveRenderer(
        Console(file=stream, force_terminal=False, width=120, height=40), clock=lambda: now[0], wall=lambda: 0.0
    )
    render(RunStarted(("preflight", "iso", "vms", "wait", "acm"), cluster="c"))
    render(PhaseStarted("preflight", cluster="c"))
    render(PhaseFinished("preflight", "done", 0.4, cluster="c"))
    render(PhaseStarted("iso", cluster="c"))
    now[0] = 107.0
    render(Output("iso", "level=info msg=[bold]extracting[/bold]", cluster="c"))
    screen = _frame(render)
    assert "✓ preflight    0.4 s" in screen
    assert "iso          0:07  level=info msg=[bold]extracting[/bold]" in screen  # remote text, literally
    assert "· vms" in screen and "· acm" in screen
    render(PhaseFinished("iso", "done", 7.0, cluster="c"))
    render(PhaseStarted("vms", cluster="c"))
    for host in ("master-0", "master-1"):
        render(HostState("vms", host, "creating", cluster="c"))
    render(HostState("vms", "master-0", "created", (("vmid", "301"), ("node", "pve2")), cluster="c"))
    screen = _frame(render)
    assert re.search(r"master-0\s+created\s+301\s+pve2", screen), screen
    assert re.search(r"master-1\s+creating", screen), screen
    render(Log("vms", "event: disk [/dev/sda] is [bold]slow[/bold]", cluster="c"))
    render(PhaseFinished("vms", "done", 3.0, cluster="c"))
    render(PhaseStarted("wait", 7200.0, cluster="c"))
    assert "of 120 min (until " in _frame(render)
    render(SAMPLES[Summary].__class__(**{**dataclasses.asdict(SAMPLES[Summary]), "cluster": "c"}))
    render.close()
    out = stream.getvalue()
    assert "  vms: event: disk [/dev/sda] is [bold]slow[/bold]" in out
    assert out.rstrip().endswith("export KUBECONFIG=/r/ocp_install/c/auth/kubeconfig"), out
    assert out.index("✓ c provisioned in 1:30") > out.index("✓ iso"), "the end of the run comes after the last frame"


def _frame(render: LiveRenderer) -> str:
    from rich.console import Console

    screen = io.StringIO()
    Console(file=screen, width=120, color_system=None).print(render.render())
    return screen.getvalue()


def test_live_view_of_several_clusters_is_one_row_each() -> None:
    from rich.console import Console

    render = LiveRenderer(
        Console(file=io.StringIO(), width=120), clock=lambda: 130.0, clusters=["a", "b", "c"], wall=lambda: 0.0
    )
    render(RunStarted(("preflight", "iso"), cluster="a"))
    render(PhaseStarted("iso", cluster="a"))
    render(Output("iso", "extracting", cluster="a"))
    render(RunStarted(("preflight", "iso"), cluster="b"))
    render(Error("another run holds b", None, 2, cluster="b"))
    rows = {line.split()[1]: line for line in _frame(render).splitlines()[2:] if line.strip()}
    render.close()
    assert re.search(r"iso\s+0/2\s+0:00\s+extracting", rows["a"]), rows
    assert "failed (exit 2)" in rows["b"]
    assert "waiting" in rows["c"]


def test_json_lines_carry_kind_time_and_the_documented_fields() -> None:
    stream = io.StringIO()
    render = JsonRenderer(stream, clock=lambda: 1748779203.0)
    for event in SAMPLES.values():
        render(event)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "run",
        "phase",
        "phase",
        "phase",
        "log",
        "warning",
        "output",
        "progress",
        "host",
        "summary",
        "error",
    ]
    assert all(line["time"] == 1748779203.0 for line in lines)
    assert [line["cluster"] for line in lines] == ["c", *[None] * (len(lines) - 1)]
    assert lines[-1] == {
        "event": "error",
        "time": 1748779203.0,
        "cluster": None,
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
    full = OSError(errno.ENOSPC, "No space left on device", "/c/ocp_install/c/state.json")
    assert error_event(full) == Error(
        "cannot use /c/ocp_install/c/state.json: No space left on device",
        "free some space on its filesystem, then run again",
        1,
    )
    unnamed = OSError(errno.ENOSPC, "No space left on device")  # a write to an open file names none
    assert error_event(unnamed) == Error(
        "cannot write a local file: No space left on device", "free some space on its filesystem, then run again", 1
    )
    assert error_event(ValueError("secret")) == Error(
        "unexpected ValueError inside proxshift", "run again with --debug for the traceback, and report it", 1
    )
    assert error_event(OSError(errno.ECONNRESET, "reset")).message.startswith("unexpected ")  # not a file's


def test_the_last_line_says_provisioned_only_when_every_phase_is_done() -> None:
    """Fault issue, item 9: `--only preflight` and `--skip wait` ended in "✓ provisioned"."""
    partial = Summary(
        None, None, "secrets/data/openshift/c", 6.0, None, ("preflight",), ("manifests", "iso", "acm"), cluster="c"
    )
    assert summary_lines(partial) == [
        "c: preflight done in 0:06; not done yet: manifests, iso, acm",
        "  the rest: proxshift provision c",
    ]
    done = Summary(
        "https://console", "https://api:6443", "secrets/data/openshift/c", 90.0, None, ("acm",), (), cluster="c"
    )
    assert summary_lines(done)[0] == "c provisioned in 1:30"
    resumed = Summary(
        "https://console",
        "https://api:6443",
        "v",
        90.0,
        None,
        ("upload",),
        (),
        "provisioned",
        "provision",
        ("manifests", "iso"),
        "start",
        cluster="c",
    )
    assert summary_lines(resumed)[-1] == (
        "  not recorded: manifests, iso, which build the cluster; it is installed, so nothing is left to do. "
        "A re-run: proxshift provision c --from start (without --from, provision would refuse to build it anew)"
    )
    unfinished = Summary(
        None, None, "v", 6.0, None, ("upload",), ("acm",), unrecorded=("iso",), resume_from="start", cluster="c"
    )
    assert summary_lines(unfinished)[-1] == "  the rest: proxshift provision c --from start"
    assert json_fields(resumed)["unrecorded"] == ["manifests", "iso"] and json_fields(resumed)["resume_from"] == "start"
    fields = json_fields(partial)
    assert (fields["ran"], fields["remaining"]) == (["preflight"], ["manifests", "iso", "acm"])
