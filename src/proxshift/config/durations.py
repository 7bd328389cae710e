"""Durations as users write them on the command line and in the site config."""

from __future__ import annotations

import re

from proxshift.errors import UserInputError

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "": 60}


def parse_duration(text: str) -> float:
    """`90m`, `2h`, `45s` or plain minutes -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match:
        raise UserInputError(f"'{text}' is not a duration", "write it like 120m, 2h or 90s")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
