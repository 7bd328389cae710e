"""config/durations.py: durations as users write them, in seconds."""

from __future__ import annotations

import pytest

from proxshift.config.durations import parse_duration
from proxshift.errors import ExitCode, UserInputError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45s", 45),
        ("90m", 5400),
        ("2h", 7200),
        ("1.5h", 5400),
        ("0.5m", 30),
        ("120", 7200),  # a plain number is minutes
        ("7.5", 450),
        ("0", 0),
        (" 10 m ", 600),
        ("10 s", 10),
    ],
)
def test_units_and_plain_minutes(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", " ", "m", "abc", "10d", "10ms", "-5m", "+5m", "1h30m", "1e3", "1,5h", "10M", ".5h"]
)
def test_bad_input_is_a_user_error_naming_the_text(text: str) -> None:
    with pytest.raises(UserInputError) as caught:
        parse_duration(text)
    assert caught.value.message == f"'{text}' is not a duration"
    assert caught.value.hint == "write it like 120m, 2h or 90s"
    assert caught.value.exit_code == ExitCode.BAD_INPUT
