"""The state file and the lock of a provision run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from proxshift.config.install_dir import InstallDir
from proxshift.engine.lock import cluster_lock
from proxshift.engine.state import State
from proxshift.errors import UserInputError


def test_state_records_inputs_and_survives_a_reload(tmp_path: Path) -> None:
    state = State(tmp_path / "state.json")
    assert not state.done("vms", "abc")
    state.record("vms", "abc", 1.5)
    again = State(tmp_path / "state.json")
    assert again.done("vms", "abc")
    assert not again.done("vms", "changed")
    assert again.ever_done("vms") and not again.ever_done("iso")
    assert oct((tmp_path / "state.json").stat().st_mode & 0o777) == "0o600"


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path: Path) -> None:
    notes: list[str] = []
    holder = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / ".lock").write_text(str(holder.pid))
        with (
            pytest.raises(UserInputError, match=f"PID {holder.pid}"),
            cluster_lock(InstallDir(tmp_path), "c", notes.append),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with cluster_lock(InstallDir(tmp_path), "c", notes.append):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
    assert notes == [f"taking over a stale lock of PID {holder.pid} (that process is gone)"]
    assert not (tmp_path / ".lock").exists()
