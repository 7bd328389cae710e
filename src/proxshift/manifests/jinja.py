"""Jinja2 for every template proxshift renders: packaged ones, overridable from <root>/templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"


# The escapes json.dumps writes, which YAML's double-quoted style reads the same way.
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _escaped(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if " " <= char <= "~":
        return char
    code = ord(char)
    # Beyond the BMP json.dumps writes a UTF-16 surrogate pair, which YAML reads as two broken
    # characters; YAML's own 8-digit escape keeps the character whole.
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def yaml_string(value: str) -> str:
    """A YAML scalar for any text: single-quoted when it fits one line, else double-quoted and escaped."""
    if "\n" not in value and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return '"' + "".join(map(_escaped, value)) + '"'


def template_environment(override_dir: Path | None) -> Any:
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None and override_dir.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(override_dir)))
    loaders.append(jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES)))
    env = jinja2.Environment(  # noqa: S701 - YAML, not HTML; values are quoted by yaml_string
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["yaml_string"] = yaml_string
    return env
