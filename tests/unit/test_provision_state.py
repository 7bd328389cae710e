"""Phase selection, the state file and the lock: the pure parts of `provision`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from proxshift.config.install_dir import InstallDir
from proxshift.engine.provision import PHASES, Options, State, cluster_lock, selected_phases
from proxshift.errors import UserInputError


def test_phase_selection() -> None:
    assert selected_phases(Options()) == list(PHASES)
    assert selected_phases(Options(start_from="vms")) == ["vms", "start", "wait", "credentials", "acm"]
    assert selected_phases(Options(only="iso")) == ["iso"]
    assert selected_phases(Options(skip=("acm", "wait"))) == [p for p in PHASES if p not in ("acm", "wait")]
    with pytest.raises(UserInputError, match="unknown phase 'vm'"):
        selected_phases(Options(skip=("vm",)))


def test_state_records_inputs_and_survives_a_reload(tmp_path: Path) -> None:
    state = State(tmp_path / "state.json")
    assert not state.done("vms", "abc")
    state.record("vms", "abc", 1.5)
    again = State(tmp_path / "state.json")
    assert again.done("vms", "abc")
    assert not again.done("vms", "changed")
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
