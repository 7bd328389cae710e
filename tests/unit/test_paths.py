"""config/paths.py: where the root, the site config and proxshift's cache are."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxshift.config.paths import cache_root


def test_cache_root_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "proxshift"


def test_cache_root_defaults_to_home(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_root() == isolated_env / ".cache" / "proxshift"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty means unset, as the XDG spec says
    assert cache_root() == isolated_env / ".cache" / "proxshift"
