"""Bad input files: one clear message with file and line, exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner


def test_validate_reports_a_duplicated_host_with_exit_2(cli: CliRunner, predecessor_root: Path) -> None:
    inventory = predecessor_root / "inventory" / "clusters.yml"
    text = inventory.read_text()
    # Paste a copy of the first host of the file under its own name, right after it.
    start = text.index("hosts:") + len("hosts:\n")
    end = text.index("\n", text.index("\n", start) + 1)
    first_host = text[start:end]
    inventory.write_text(text[:start] + first_host + "\n" + text[start:])
    result = cli("--root", predecessor_root, "validate")
    assert result.code == 2
    assert "is written twice" in result.err
    assert "Traceback" not in result.err


def test_an_alias_bomb_in_the_site_config_is_exit_2(cli: CliRunner, predecessor_root: Path) -> None:
    site = predecessor_root / "config" / "site-config.yaml"
    bomb = ['x0: &x0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]" for i in range(1, 10)]
    site.write_text(site.read_text() + "\n".join(bomb) + "\n")
    result = cli("--root", predecessor_root, "validate")
    assert result.code == 2
    assert "site-config.yaml: its aliases" in result.err


def test_manifests_into_a_path_a_file_is_in_the_way_of_names_it(cli: CliRunner, predecessor_root: Path) -> None:
    (predecessor_root / "afile").write_text("")
    out = predecessor_root / "afile" / "out"
    result = cli("--root", predecessor_root, "manifests", "ocp-sno1", "--no-vault", "--output-dir", out)
    assert result.code == 1
    assert "error: cannot write the manifests to afile/out: Not a directory" in result.err
    assert "a file is in the way where a directory should be: move it away" in result.err
    assert "InstallDir" not in result.err and "Traceback" not in result.err


def test_a_malformed_token_id_does_not_hide_the_inventory_problem(
    cli: CliRunner, predecessor_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VM commands log in early, as soon as the site config is read: a bad token ID must wait its turn."""
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_ID", "bad")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_SECRET", "x")
    result = cli("--root", predecessor_root, "start", "nosuch")
    assert result.code == 2
    assert "unknown cluster 'nosuch'" in result.err
    result = cli("--root", predecessor_root, "start", "ocp-sno1")
    assert result.code == 2 and "PROXSHIFT_PROXMOX_TOKEN_ID: 'bad' is not a token ID" in result.err
