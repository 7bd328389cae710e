"""The command tree is wired in one place: importing the app yields every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CliRunner

EXPECTED_COMMANDS = {
    "provision", "post", "manifests", "clusters", "show", "validate", "doctor", "health",
    "start", "stop", "status", "deprovision", "adopt", "wait", "credentials", "backup", "restore",
}  # fmt: skip
EXPECTED_GROUPS = {"vms": {"create"}, "iso": {"create", "upload"}, "installer": {"fetch"}, "vault": {"check"},
                   "acm": {"import", "detach"}, "nodes": {"add"},
                   "lab": {"up", "down", "status", "env", "predecessor"}}  # fmt: skip


def test_importing_the_app_registers_every_command() -> None:
    # A fresh interpreter: nothing else may have registered commands first.
    code = (
        "from proxshift.cli import app\n"
        "print(sorted(c.name or c.callback.__name__ for c in app.registered_commands))\n"
        "print(sorted((g.name, sorted(c.name for c in g.typer_instance.registered_commands))"
        " for g in app.registered_groups))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    commands, groups = out.splitlines()
    assert commands == str(sorted(EXPECTED_COMMANDS))
    assert groups == str(sorted((name, sorted(subs)) for name, subs in EXPECTED_GROUPS.items()))


def test_a_run_imports_only_the_module_of_its_command(predecessor_root: Path) -> None:
    """The other command modules (compiled on each run without bytecode caching), and typer reading every
    command's signature, cost a light command ~45 ms."""
    code = (
        "import sys, typer.main\n"
        "made = []\n"
        "def counted(command_info, **kw):\n"
        "    made.append(command_info.callback.__name__)\n"
        "    return make(command_info=command_info, **kw)\n"
        "make, typer.main.get_command_from_info = typer.main.get_command_from_info, counted\n"
        "from proxshift.cli import run\n"
        f"run(['--root', {str(predecessor_root)!r}, 'clusters'])\n"
        "print(made, sorted(m for m in sys.modules if m.startswith('proxshift.cli.') and m.endswith('_cmds')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "['clusters'] ['proxshift.cli.inventory_cmds']"


def test_the_console_script_collects_seldom_and_not_at_the_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    from proxshift.cli import main

    calls: list[str] = []
    monkeypatch.setattr("gc.set_threshold", lambda young: calls.append(f"threshold {young}"))
    monkeypatch.setattr("gc.freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr("sys.argv", ["proxshift", "--version"])
    with pytest.raises(SystemExit) as leaving:
        main()
    assert (leaving.value.code, calls) == (0, ["threshold 10000", "freeze"])


def test_short_help_everywhere(cli: CliRunner) -> None:
    for argv in (["-h"], ["provision", "-h"], ["vms", "-h"], ["vms", "create", "-h"]):
        result = cli(*argv)
        assert result.code == 0, argv
        assert "Usage: proxshift" in result.out


def test_debug_is_accepted_after_the_subcommand(cli: CliRunner, predecessor_root: Path) -> None:
    result = cli("--root", predecessor_root, "clusters", "--debug")
    assert result.code == 0
    assert "debug: " in result.err


def test_debug_from_the_environment(cli: CliRunner, predecessor_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXSHIFT_DEBUG", "1")
    result = cli("--root", predecessor_root, "clusters")
    assert "debug: " in result.err
