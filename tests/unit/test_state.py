"""engine/state.py: the state file of a provision run."""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (
            '{"phases": {"vms": {"status": "do',
            "it is not JSON (Unterminated string starting at: line 1 column 31 (char 30); truncated",
        ),
        (b"\x00\xff{garbage", "it is not UTF-8 text"),
        ("[]", "it holds a JSON array, not the object proxshift writes"),
        ('{"phases": []}', "'phases' is a JSON array, not an object of phase records"),
        ('{"phases": {"vms": "done"}}', "the record of phase 'vms' is \"done\", not an object with a status"),
        (None, "Is a directory"),
    ],
    ids=["truncated", "not-utf8", "list", "phases-list", "phase-string", "directory"],
)
def test_an_unusable_state_file_is_exit_2_naming_it_and_what_to_do(
    tmp_path: Path, content: str | bytes | None, why: str
) -> None:
    path = tmp_path / "state.json"
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(UserInputError) as refused:
        State(path)
    assert refused.value.message.startswith(f"cannot use the state file {path}: {why}")
    assert refused.value.exit_code == 2
    assert f"mv {path} {path}.bad" in (refused.value.hint or "")


def test_a_missing_state_file_is_no_record_at_all(tmp_path: Path) -> None:
    state = State(tmp_path / "state.json")
    assert not state.found and state.data == {"phases": {}}
    state.record("vms", "abc", 1.0)
    assert State(tmp_path / "state.json").found
