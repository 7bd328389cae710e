"""Which rendered manifests already passed their JSON Schema: hashes only, so a re-render skips jsonschema.

An entry is an empty file named by one SHA-256 over everything the schema check's verdict depends on:
the manifest's name and rendered text, the schema file's bytes, the checking code (manifests/check.py)
and this module's format version, proxshift's version, and the modification times of the directories
on sys.path (installing, removing or upgrading jsonschema, PyYAML or an optional format checker changes
them). Any change gives a new key, so a stale verdict is never read. Only passes are recorded: a
manifest that fails its schema is checked, and reported, on every run.

The rendered install-config holds the pull secret: the cache stores a digest of it among the rest,
never any text. It lives in a 0700 directory under proxshift's cache (`<cache>/schema-checks/`), entries
0600; a directory that is not private, or not the user's own, is neither read nor written. The cache is
best effort: when it cannot be read or written, the check runs as without it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path

from proxshift import __version__
from proxshift.config.paths import cache_root
from proxshift.files import own_private_dir

FORMAT = b"proxshift schema-check cache 1"
KEEP = 256  # entries kept; the oldest go first
_CHECK_CODE = Path(__file__).with_name("check.py")


def cache_dir() -> Path:
    return cache_root() / "schema-checks"


def _environment() -> bytes:
    """The directories imports come from, with their modification times."""
    parts = []
    for entry in sys.path:
        try:
            parts.append(f"{entry}\0{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}\0-")
    return "\n".join(parts).encode()


def schema_key(manifest: str, text: str, schema: Path) -> str | None:
    """The key of `text` checked as `manifest` against the schema file `schema`; None when a part of it
    cannot be read (no caching then)."""
    digest = hashlib.sha256(FORMAT)
    try:
        for part in (__version__.encode(), _CHECK_CODE.read_bytes(), schema.read_bytes(), _environment()):
            digest.update(len(part).to_bytes(8, "big") + part)
    except OSError:
        return None
    for part in (manifest.encode(), text.encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def passed(key: str | None) -> bool:
    """Whether the manifest of `key` is recorded as passing its schema."""
    directory = cache_dir()
    if key is None or not directory.is_dir() or not own_private_dir(directory):
        return False
    try:
        info = os.lstat(directory / key)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()


def record_pass(key: str | None) -> None:
    """Record that the manifest of `key` passed its schema; keeps the newest KEEP entries."""
    if key is None:
        return
    directory = cache_dir()
    if not own_private_dir(directory):
        return
    try:
        fd = os.open(directory / key, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        _prune(directory)
    except OSError:
        return


def _prune(directory: Path) -> None:
    entries = list(os.scandir(directory))
    if len(entries) <= KEEP:
        return
    entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
    for entry in entries[: len(entries) - KEEP]:
        Path(entry.path).unlink(missing_ok=True)
