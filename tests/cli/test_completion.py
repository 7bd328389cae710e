"""Shell completion: the options that install it, and cluster names from the inventory (through the cache)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CliRunner

CODE = "from proxshift.cli import main; main()"


def _complete(root: Path, line: str, kind: str = "bash", cwd: Path | None = None) -> list[str]:
    words = line.split(" ")
    env = {**os.environ, "_PROXSHIFT_COMPLETE": f"complete_{kind}"}
    if kind == "bash":
        env |= {"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    else:
        env["_TYPER_COMPLETE_ARGS"] = line
    done = subprocess.run(
        [sys.executable, "-c", CODE], check=False, env=env, cwd=cwd or root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_cluster_names_complete_from_the_inventory(predecessor_root: Path, isolated_env: Path) -> None:
    assert _complete(predecessor_root, "proxshift show ocp-s") == ["ocp-sno1", "ocp-sno2", "ocp-sno3"]
    # From the listing cache (filled by the first TAB), and from a subdirectory of the root.
    assert list((isolated_env / ".cache" / "proxshift" / "clusters").glob("*.json"))
    sub = predecessor_root / "inventory"
    assert _complete(predecessor_root, "proxshift status ocp3", cwd=sub) == ["ocp3"]
    # Several clusters: the ones already on the line are not offered again; --root is honoured.
    line = f"proxshift --root {predecessor_root} provision ocp-sno1 ocp-s"
    assert _complete(Path("/"), line) == ["ocp-sno2", "ocp-sno3"]
    zsh = "\n".join(_complete(predecessor_root, "proxshift vms create ocp3", kind="zsh"))
    assert '"ocp3":"HA (3 masters, 1 worker)"' in zsh


def test_a_broken_inventory_completes_nothing(tmp_path: Path) -> None:
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "clusters.yml").write_text("all: [")
    assert _complete(tmp_path, "proxshift show ") == []


def test_the_completion_script_is_shown(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # The shell named, not detected: detection walks up the processes, which under xdist or a CI runner
    # need not include a shell (typer's own switch for tests).
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    import shellingham

    def no_shell() -> tuple[str, str]:
        raise shellingham.ShellDetectionFailure

    monkeypatch.setattr(shellingham, "detect_shell", no_shell)
    result = cli("--show-completion", "bash")
    assert result.code == 0
    assert "_PROXSHIFT_COMPLETE=complete_bash" in result.out
    assert "--install-completion" in cli("--help").out
