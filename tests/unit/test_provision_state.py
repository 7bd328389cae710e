"""The state file of a provision run."""

from __future__ import annotations

from pathlib import Path

from proxshift.engine.state import State


def test_state_records_inputs_and_survives_a_reload(tmp_path: Path) -> None:
    state = State(tmp_path / "state.json")
    assert not state.done("vms", "abc")
    state.record("vms", "abc", 1.5)
    again = State(tmp_path / "state.json")
    assert again.done("vms", "abc")
    assert not again.done("vms", "changed")
    assert again.ever_done("vms") and not again.ever_done("iso")
    assert oct((tmp_path / "state.json").stat().st_mode & 0o777) == "0o600"
