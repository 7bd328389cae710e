"""The command tree is wired in one place: importing the app yields every command."""

from __future__ import annotations

import signal
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
    monkeypatch.setattr("signal.signal", lambda signum, handler: calls.append(f"{signum!r} {handler!r}"))
    monkeypatch.setattr("sys.argv", ["proxshift", "--version"])
    with pytest.raises(SystemExit) as leaving:
        main()
    ignored = f"{signal.SIGINT!r} {signal.SIG_IGN!r}"  # the exit is not cut short by a late Ctrl-C
    assert (leaving.value.code, calls) == (0, ["threshold 10000", ignored, "freeze"])


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


def _second_ctrl_c(code: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter (a real SIGINT must not reach pytest's), the main thread as the console script's."""
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)


def test_a_second_ctrl_c_while_the_ending_is_said_does_not_cut_it_short() -> None:
    """Ctrl-C in a terminal under `timeout --foreground` (or pressed twice) comes twice, a moment apart: the
    second one met the error boundary saying the first one's ending, and put a traceback in its place."""
    code = (
        "import os, signal, sys\n"
        "import proxshift.cli.lab_env, proxshift.cli\n"
        "m = sys.modules['proxshift.cli.main']\n"
        "from proxshift.engine.provision import Interrupted\n"
        "def invoke(argv):\n"
        "    raise Interrupted('interrupted during wait; completed phases are recorded', 'resume with: x')\n"
        "def stale_lab_env():  # what the ending does first: here, the second SIGINT arrives\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return None\n"
        "m._invoke, proxshift.cli.lab_env.stale_lab_env = invoke, stale_lab_env\n"
        "print('code', m.run(['provision', 'x']))\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)  # Python's own again after the run\n"
    )
    done = _second_ctrl_c(code)
    assert done.stdout == "code 130\nTrue\n"
    assert "error: interrupted during wait; completed phases are recorded" in done.stderr
    assert "  hint: resume with: x" in done.stderr


def test_a_ctrl_c_while_the_process_exits_is_ignored() -> None:
    """The exit runs the clients' atexit callbacks (kubernetes removes its temporary files): a late Ctrl-C
    there printed 'Exception ignored in atexit callback' and a traceback after the run's last line."""
    code = (
        "import atexit, os, signal, sys, time\n"
        "def late():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.05)\n"
        "    print('atexit done')\n"
        "atexit.register(late)\n"
        "sys.argv = ['proxshift', '--version']\n"
        "from proxshift.cli.main import main\n"
        "main()\n"
    )
    done = _second_ctrl_c(code)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == "atexit done"
