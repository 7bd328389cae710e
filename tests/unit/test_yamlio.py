"""config/yamlio.py: MACs and WWNs stay text, line numbers follow keys, broken YAML names file and line."""

from __future__ import annotations

from pathlib import Path

from proxshift.config.yamlio import load_yaml
from tests.conftest import CliRunner, ProjectFiles


def test_unquoted_all_digit_mac_stays_text(tmp_path: Path) -> None:
    """YAML 1.1 reads 52:54:00:12:34:56 as the base-60 integer 2491502896; we must not."""
    f = tmp_path / "x.yml"
    f.write_text("mac: 52:54:00:12:34:56\nwwn: 0x5000c50000000004\nsize: 120\nratio: 1.5\nok: yes\nneg: -3\n")
    data, _ = load_yaml(f)
    assert data == {
        "mac": "52:54:00:12:34:56",
        "wwn": "0x5000c50000000004",
        "size": 120,
        "ratio": 1.5,
        "ok": True,
        "neg": -3,
    }


def test_unquoted_mac_in_inventory_is_used_as_written(project: ProjectFiles, cli: CliRunner) -> None:
    root = project.write()
    inv = root / "inventory" / "clusters.yml"
    inv.write_text(inv.read_text().replace("mac: BC:24:11:00:00:01", "mac: 52:54:00:12:34:56"))
    result = cli("--root", root, "show", "sno", "--json")
    assert result.code == 0, result.err
    assert '"mac": "52:54:00:12:34:56"' in result.out


def test_line_numbers_follow_keys(tmp_path: Path) -> None:
    f = tmp_path / "x.yml"
    f.write_text("a:\n  b:\n    c: 1\n  d: [x, y]\n")
    _, lines = load_yaml(f)
    assert lines[("a", "b", "c")] == 3
    assert lines[("a", "d", "1")] == 4


def test_broken_yaml_names_file_and_line(project: ProjectFiles, cli: CliRunner) -> None:
    root = project.write()
    (root / "inventory" / "clusters.yml").write_text("all:\n  children:\n    clusters: [\n")
    result = cli("--root", root, "validate")
    assert result.code == 2
    assert "inventory/clusters.yml" in result.err and "is not valid YAML" in result.err
    assert "Traceback" not in result.err


def test_missing_inventory(tmp_path: Path, cli: CliRunner) -> None:
    result = cli("--root", tmp_path, "clusters")
    assert result.code == 2
    assert "inventory/clusters.yml: file not found" in result.err
