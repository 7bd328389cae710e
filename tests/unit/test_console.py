"""cli/console.py: piped stderr gets plain lines, exactly as written, without ANSI codes or rich."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from proxshift.cli.console import UI
from proxshift.errors import Problem, UserInputError


def _piped(debug: bool = False) -> tuple[UI, io.StringIO]:
    err = io.StringIO()  # not a tty, as when stderr is piped or redirected
    return UI(stdout=io.StringIO(), stderr=err, debug=debug), err


def test_each_kind_of_line() -> None:
    ui, err = _piped(debug=True)
    ui.info("plain [red]not markup[/red]")
    ui.success("wrote ocp_install/c1/install-config.yaml (0600)")
    ui.warning("VAULT_SKIP_VERIFY is set")
    ui.debug("ignored key iso_boot_path")
    ui.error(UserInputError("unknown cluster 'x'", "did you mean 'c1'?"))
    ui.warnings_pointer(2)
    assert err.getvalue().splitlines() == [
        "plain [red]not markup[/red]",
        "✓ wrote ocp_install/c1/install-config.yaml (0600)",
        "warning: VAULT_SKIP_VERIFY is set",
        "debug: ignored key iso_boot_path",
        "error: unknown cluster 'x'",
        "  hint: did you mean 'c1'?",
        "2 warnings in the inventory or site config: run 'proxshift validate'",
    ]


def test_problems_with_file_line_location_and_fix() -> None:
    ui, err = _piped()
    ui.problems(
        [
            Problem("inventory/clusters.yml", "clusters.c1.hosts.n1.vmid", "is required", "add vmid", line=12),
            Problem("site-config.yaml", "hub_clustr", "is not a known key", "did you mean 'hub_cluster'?", "warning"),
            Problem("site config", "", "no site config found"),
        ]
    )
    assert err.getvalue() == (
        "error: inventory/clusters.yml:12: clusters.c1.hosts.n1.vmid: is required\n"
        "  fix: add vmid\n"
        "warning: site-config.yaml: hub_clustr: is not a known key\n"
        "  fix: did you mean 'hub_cluster'?\n"
        "error: site config: no site config found\n"
    )


def test_debug_lines_only_with_debug() -> None:
    ui, err = _piped(debug=False)
    ui.debug("hidden")
    assert err.getvalue() == ""


def test_no_ansi_codes_in_piped_lines() -> None:
    ui, err = _piped(debug=True)
    ui.success("a")
    ui.warning("b")
    ui.error(UserInputError("c", "d"))
    assert "\x1b" not in err.getvalue()


def test_piped_lines_do_not_import_rich() -> None:
    """rich costs ~35 ms at start; a piped run that only prints lines must not pay it."""
    script = """
import io, sys
from proxshift.cli.console import UI
from proxshift.errors import Problem, UserInputError
before = set(sys.modules)
ui = UI(stdout=io.StringIO(), stderr=io.StringIO(), debug=True)
ui.info("i"); ui.success("s"); ui.warning("w"); ui.debug("d")
ui.error(UserInputError("e", "h")); ui.problems([Problem("f", "l", "m", "x")])
print(sorted(m for m in set(sys.modules) - before if m.split(".")[0] == "rich"))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_force_color_brings_rich_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    ui, err = _piped()
    ui.warning("coloured")
    assert "\x1b[" in err.getvalue()
    assert "coloured" in err.getvalue()


TABLES = [
    (("CLUSTER", "TOPOLOGY"), [("ocp", "HA (3 masters, 3 workers)"), ("ocp-sno1", "SNO")]),
    (("A", "BB"), []),
    (("A", "BB"), [("", "")]),
    (("A", "BB"), [("x y ", " lead")]),
    (("HOST", "DISKS", "NICS"), [("n1", "scsi0=a\nscsi1=bb", "net0"), ("n2", "-", "net0\nnet1\nnet2")]),
    (("ONLY",), [("one",), ("two",)]),
    (("A", "B"), [("[bold]not markup[/bold]", ":smile: [red]")]),
]


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    UI(stdout=out, stderr=io.StringIO()).table(None, columns, rows)
    return out.getvalue()


@pytest.mark.parametrize(("columns", "rows"), TABLES)
def test_a_piped_table_is_drawn_as_rich_draws_it(
    columns: tuple[str, ...], rows: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _table(columns, rows)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")  # rich decides (a pipe all the same): rich draws it
    assert plain == _table(columns, rows)


@pytest.mark.parametrize(
    "rows",
    [
        [("wide", "x" * 70)],  # wider than COLUMNS: rich folds it
        [("ünïcode", "日本語")],  # display widths are rich's to measure
        [("tab\there", "x")],
    ],
)
def test_tables_the_plain_drawing_leaves_to_rich(rows: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    plain = _table(("A", "B"), rows)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    assert plain == _table(("A", "B"), rows)
    assert all(len(line) <= 60 for line in plain.splitlines())


def test_cells_are_never_markup() -> None:
    assert "[bold]not markup[/bold]" in _table(("A",), [("[bold]not markup[/bold]",)])
    assert ":smile:" in _table(("A",), [(":smile:",)])


def test_a_piped_table_does_not_import_rich() -> None:
    script = """
import io, sys
from proxshift.cli.console import UI
ui = UI(stdout=io.StringIO(), stderr=io.StringIO())
ui.table(None, ("A", "B"), [("1", "2\\n3")]); ui.newline()
print(sorted(m for m in sys.modules if m.split(".")[0] == "rich"))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
