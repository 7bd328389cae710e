"""`lab up / status / env / down` as users run them: a background process, stopped exactly by PID."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _proxshift(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "proxshift")
    return subprocess.run([exe, "--root", str(root), *args], capture_output=True, text=True, timeout=120, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_lab_up_status_env_down(predecessor_root: Path) -> None:
    up = _proxshift(predecessor_root, "lab", "up")
    state_file = predecessor_root / ".lab" / "state.json"
    try:
        assert up.returncode == 0, up.stderr
        assert "it SIMULATES Proxmox, Vault and OpenShift" in up.stderr
        state = json.loads(state_file.read_text())
        pids = [state["pid"], state["bao_pid"]]
        assert all(_alive(pid) for pid in pids)
        again = _proxshift(predecessor_root, "lab", "up")
        assert again.returncode == 0 and "already up" in again.stderr
        status = _proxshift(predecessor_root, "lab", "status")
        assert status.returncode == 0
        assert status.stdout.count(" ok") == len(state["services"])
        env = _proxshift(predecessor_root, "lab", "env")
        assert "export VAULT_ADDR=" in env.stdout and "export PROXSHIFT_CONFIG=" in env.stdout
    finally:
        down = _proxshift(predecessor_root, "lab", "down")
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids)
    assert not state_file.exists()
    assert _proxshift(predecessor_root, "lab", "status").returncode == 1


@pytest.mark.parametrize("command", ["env"])
def test_lab_commands_without_a_lab(predecessor_root: Path, command: str) -> None:
    result = _proxshift(predecessor_root, "lab", command)
    assert result.returncode == 1
    assert "the lab is not up" in result.stderr
