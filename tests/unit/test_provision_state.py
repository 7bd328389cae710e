"""The pure parts of `provision`: phase selection from the list, the state file and the lock."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from proxshift.config.install_dir import InstallDir
from proxshift.engine.lock import cluster_lock
from proxshift.engine.phases.base import Options
from proxshift.engine.phases.flow import PHASES, after, names, select
from proxshift.engine.state import State
from proxshift.errors import UserInputError


def _selected(options: Options) -> list[str]:
    return names(select(options))


def test_phase_selection() -> None:
    assert _selected(Options()) == names(PHASES)
    assert _selected(Options(start_from="vms")) == ["vms", "start", "wait", "credentials", "acm"]
    assert _selected(Options(only="iso")) == ["iso"]
    assert _selected(Options(skip=("acm", "wait"))) == [p for p in names() if p not in ("acm", "wait")]
    assert _selected(Options(start_from="iso", skip=("upload",))) == ["iso", *names()[5:]]
    with pytest.raises(UserInputError, match="unknown phase 'vm'") as raised:
        _selected(Options(skip=("vm",)))
    assert raised.value.hint == "phases: " + ", ".join(names())


def test_the_list_is_the_flow() -> None:
    assert names() == [
        "preflight",
        "secrets",
        "manifests",
        "iso",
        "upload",
        "vms",
        "start",
        "wait",
        "credentials",
        "acm",
    ]
    assert len(set(names())) == len(PHASES)
    assert [p.name for p in PHASES if p.always] == ["preflight", "secrets"]
    assert after("credentials") == (PHASES[-1],)
    assert after("acm") == ()  # the post-install phases go here
    for phase in PHASES:
        assert phase.description and "\n" not in phase.description, phase.name


def test_selection_works_on_any_list_of_phases() -> None:
    post = PHASES[-3:]
    assert names(select(Options(), post)) == ["wait", "credentials", "acm"]
    with pytest.raises(UserInputError, match="unknown phase 'vms'"):
        select(Options(only="vms"), post)


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
