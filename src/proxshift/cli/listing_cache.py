"""A content-addressed cache of the `clusters` listing, so it needs no pydantic on a re-run.

The key covers every input of the listing: proxshift's version and the bytes of the inventory
and site config. Any edit gives a new key; a stale entry can never be read. The listing holds
names, counts and addresses, never a secret.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from proxshift import __version__
from proxshift.config.paths import Paths, cache_root


def _cache_dir() -> Path:
    return cache_root() / "clusters"


def listing_key(paths: Paths) -> str | None:
    digest = hashlib.sha256(__version__.encode())
    for path in (paths.inventory, paths.config):
        digest.update(b"\0" + str(path).encode() + b"\0")
        if path is None:
            continue
        try:
            digest.update(path.read_bytes())
        except OSError:
            return None  # the full load reports the problem
    return digest.hexdigest()


def read_listing(key: str) -> dict[str, Any] | None:
    try:
        data = json.loads((_cache_dir() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("version") == __version__ else None


def write_listing(key: str, listing: dict[str, Any]) -> None:
    """Best effort: a cache that cannot be written only costs speed."""
    directory = _cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            json.dump({**listing, "version": __version__}, handle)
        os.replace(temp, directory / f"{key}.json")
    except OSError:
        return
