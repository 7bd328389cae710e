"""YAML reading: exact MACs, duplicate keys, alias bombs and bad bytes refused with file and line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from proxshift.config.yamlio import load_yaml, parse_yaml
from proxshift.errors import InvalidInput, UserInputError
from tests.conftest import CliRunner, ProjectFiles


def test_macs_and_wwns_stay_text() -> None:
    data, lines = parse_yaml("mac: 52:54:00:12:34:56\nwwn: 0x5000c500a1b2c3d4\nn: 10\n", "f.yml")
    assert data == {"mac": "52:54:00:12:34:56", "wwn": "0x5000c500a1b2c3d4", "n": 10}
    assert lines[("wwn",)] == 2


@pytest.mark.parametrize(
    ("text", "location", "lines"),
    [
        ("a: 1\nb: 2\na: 3\n", "a", (1, 3)),
        ("all:\n  hosts:\n    m1: {ip: 1}\n    m2: {ip: 2}\n    m1: {ip: 3}\n", "all.hosts.m1", (3, 5)),
        ("all:\n  children:\n    c:\n      vars:\n        x: 1\n        x: 2\n", "all.children.c.vars.x", (5, 6)),
    ],
    ids=["top", "hosts", "deep"],
)
def test_a_duplicate_key_at_any_depth_names_both_lines(text: str, location: str, lines: tuple[int, int]) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_yaml(text, "inventory/clusters.yml")
    [problem] = raised.value.problems
    assert problem.file == "inventory/clusters.yml"
    assert problem.location == location
    assert problem.line == lines[1]
    assert f"lines {lines[0]} and {lines[1]}" in problem.message


def test_merge_keys_may_override() -> None:
    data, _ = parse_yaml("base: &b {cores: 4, memory: 8}\nnode:\n  <<: *b\n  cores: 8\n", "f.yml")
    assert data["node"] == {"cores": 8, "memory": 8}


def test_an_alias_bomb_is_refused_fast() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    started = time.monotonic()
    with pytest.raises(UserInputError, match="aliases"):
        parse_yaml("\n".join(lines) + "\n", "site-config.yaml")
    assert time.monotonic() - started < 2


def test_non_utf8_bytes_name_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "clusters.yml"
    path.write_bytes(b"all:\n  vars:\n    x: caf\xe9\n")
    with pytest.raises(UserInputError, match=r"clusters.yml:3: is not UTF-8 text \(byte 0xe9 at offset 23\)"):
        load_yaml(path, "clusters.yml")


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
