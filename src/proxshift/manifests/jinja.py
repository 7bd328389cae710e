"""Jinja2 for every template proxshift renders: packaged ones, overridable from <root>/templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
_THIS_CODE = Path(__file__)


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
        bytecode_cache=bytecode_cache(),
    )
    env.filters["yaml_string"] = yaml_string
    return env


def bytecode_cache() -> Any:
    """Jinja's compiled templates, kept in proxshift's cache (`<cache>/templates/`, 0700): a re-render
    compiles no template again. Jinja keys an entry by the template's name and file and checks the
    source's checksum and the Python version; the file names add Jinja's version (and install time), proxshift's and
    this module's code (the Environment's options shape the compiled code). Compiled templates hold the
    templates' text, never a rendered value. None (compile every time) when the directory is not private.
    """
    import hashlib
    import os
    import pickle

    import jinja2

    from proxshift import __version__
    from proxshift.config.paths import cache_root
    from proxshift.files import own_private_dir

    directory = cache_root() / "templates"
    try:  # Jinja's version, and when it was installed
        parts = [str(getattr(jinja2, "__version__", "")), str(os.stat(jinja2.__file__ or "").st_mtime_ns), __version__]
        code = _THIS_CODE.read_bytes()
    except OSError:
        return None
    if not own_private_dir(directory):
        return None
    digest = hashlib.sha256(b"\0".join([*(p.encode() for p in parts), code])).hexdigest()

    class BestEffort(jinja2.FileSystemBytecodeCache):
        """A cache that cannot be read or written only costs the compile."""

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().load_bytecode(bucket)
            except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
                bucket.reset()

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().dump_bytecode(bucket)
            except OSError:
                return

    return BestEffort(str(directory), f"{digest[:24]}-%s.cache")
