"""config/paths.py: where the root, the site config and proxshift's cache are."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxshift.config.paths import cache_root, discover_paths
from tests.conftest import CliRunner, ProjectFiles


def test_cache_root_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "proxshift"


def test_cache_root_defaults_to_home(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_root() == isolated_env / ".cache" / "proxshift"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty means unset, as the XDG spec says
    assert cache_root() == isolated_env / ".cache" / "proxshift"


def test_discovery_order(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home_config = isolated_env / ".proxshift" / "site-config.yaml"
    home_config.parent.mkdir()
    home_config.write_text("{}\n")
    assert discover_paths(tmp_path).config == home_config
    root_config = tmp_path / "config" / "site-config.yaml"
    root_config.parent.mkdir()
    root_config.write_text("{}\n")
    assert discover_paths(tmp_path).config == root_config
    monkeypatch.setenv("PROXSHIFT_CONFIG", str(tmp_path / "env.yaml"))
    assert discover_paths(tmp_path).config == tmp_path / "env.yaml"
    assert discover_paths(tmp_path, tmp_path / "flag.yaml").config == tmp_path / "flag.yaml"
    monkeypatch.setenv("PROXSHIFT_ROOT", str(tmp_path / "r"))
    assert discover_paths().inventory == tmp_path / "r" / "inventory" / "clusters.yml"


def test_show_without_site_config_says_where_it_looked(project: ProjectFiles, cli: CliRunner) -> None:
    root = project.write()
    (root / "config" / "site-config.yaml").unlink()
    result = cli("--root", root, "show", "sno")
    assert result.code == 2
    assert "no site config found (looked in:" in result.err
    assert cli("--root", root, "clusters").code == 0
