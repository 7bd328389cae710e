"""`clusters`, `show`, `validate` on the predecessor's files: exact output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, CliRunner

GOLDEN = FIXTURES / "cli"


def test_clusters_table_is_exact(predecessor_root: Path, cli: CliRunner) -> None:
    result = cli("--root", predecessor_root, "clusters")
    assert result.code == 0
    assert result.out == (GOLDEN / "clusters.txt").read_text()
    # The predecessor's gitops_root and backup_dir are two of them (post_install replaces them).
    assert result.err == "6 warnings in the inventory or site config: run 'proxshift validate'\n"


def test_clusters_json(predecessor_root: Path, cli: CliRunner) -> None:
    result = cli("--root", predecessor_root, "clusters", "--json")
    data = json.loads(result.out)
    assert [(c["name"], c["topology"], c["masters"], c["workers"], c["nodes"]) for c in data] == [
        ("ocp", "HA", 3, 3, 6),
        ("ocp3", "HA", 3, 1, 4),
        ("ocp-sno1", "SNO", 1, 0, 1),
        ("ocp-sno2", "SNO", 1, 0, 1),
        ("ocp-sno3", "SNO", 1, 0, 1),
    ]
    assert data[0]["version"] == "4.19.1"
    assert data[0]["pve_nodes"] == ["pve1", "pve3", "pve4"]


@pytest.mark.parametrize("cluster", ["ocp3", "ocp-sno1"])
def test_show_is_exact(predecessor_root: Path, cli: CliRunner, cluster: str) -> None:
    result = cli("--root", predecessor_root, "show", cluster)
    assert result.code == 0
    assert result.out == (GOLDEN / f"show-{cluster}.txt").read_text()


def test_show_json_has_every_node_resolved(predecessor_root: Path, cli: CliRunner) -> None:
    data = json.loads(cli("--root", predecessor_root, "show", "ocp", "--json").out)
    node4 = data["hosts"][3]
    assert node4 == {
        **node4,
        "name": "ocp-node4",
        "fqdn": "ocp-node4.ocp.homelab.local",
        "role": "worker",
        "ip": "192.168.1.13",
        "mac": "BC:24:11:52:94:F4",
        "vmid": 404,
        "pve_node": "pve4",
        "cores": 10,
        "memory_mb": 32768,
        "root_device_wwn": "0x5000c50000000004",
    }
    assert node4["disks"]["scsi1"] == {
        "storage": "local-lvm",
        "size": 150,
        "backup": False,
        "ssd": True,
        "iothread": True,
    }
    assert node4["nics"]["net0"] == {
        "model": "virtio",
        "mac": "BC:24:11:52:94:F4",
        "bridge": "vmbr0",
        "tag": 42,
        "firewall": False,
    }
    assert (data["rendezvous_ip"], data["api_vip"], data["ingress_vip"]) == (
        "192.168.1.10",
        "192.168.1.20",
        "192.168.1.21",
    )
    assert data["network"]["subnet"] == "192.168.1.0/24"


def test_validate_predecessor_passes_with_warnings(predecessor_root: Path, cli: CliRunner) -> None:
    result = cli("--root", predecessor_root, "validate")
    assert result.code == 0
    assert "5 clusters valid: ocp, ocp3, ocp-sno1, ocp-sno2, ocp-sno3 (6 warnings)" in result.err
    assert result.err.count("warning:") == 6


def test_validate_strict_fails_on_predecessor_warnings(predecessor_root: Path, cli: CliRunner) -> None:
    assert cli("--root", predecessor_root, "validate", "--strict").code == 2


def test_unknown_cluster_in_show(predecessor_root: Path, cli: CliRunner) -> None:
    result = cli("--root", predecessor_root, "show", "ocp-sno4")
    assert result.code == 2
    assert "unknown cluster 'ocp-sno4'" in result.err
    assert "Known clusters: ocp, ocp3, ocp-sno1, ocp-sno2, ocp-sno3" in result.err


def test_usage_error_is_exit_2(cli: CliRunner) -> None:
    assert cli("frobnicate").code == 2
    assert cli("clusters", "--no-such-flag").code == 2


def test_version_and_help(cli: CliRunner) -> None:
    assert cli("--version").out.startswith("proxshift ")
    result = cli("--help")
    assert result.code == 0
    for command in ("clusters", "show", "validate"):
        assert command in result.out


def test_inventory_and_config_flags(predecessor_root: Path, tmp_path: Path, cli: CliRunner) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli(
        "--root",
        elsewhere,
        "--inventory",
        predecessor_root / "inventory" / "clusters.yml",
        "--config",
        predecessor_root / "config" / "site-config.yaml",
        "validate",
        "ocp-sno1",
    )
    assert result.code == 0, result.err


def test_light_commands_do_not_import_heavy_clients(predecessor_root: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from proxshift.cli import run; "
        f"run(['--root', {str(predecessor_root)!r}, 'clusters']); "
        f"run(['--root', {str(predecessor_root)!r}, 'validate']); "
        "heavy = [m for m in ('kubernetes', 'hvac', 'proxmoxer', 'requests', 'jinja2') if m in sys.modules]; "
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_clusters_listing_cache_is_exact_and_follows_edits(predecessor_root: Path, cli: CliRunner) -> None:
    first = cli("--root", predecessor_root, "clusters")
    second = cli("--root", predecessor_root, "clusters")  # served from the listing cache
    assert (second.code, second.out, second.err) == (first.code, first.out, first.err)
    inventory = predecessor_root / "inventory" / "clusters.yml"
    inventory.write_text(inventory.read_text().replace('ocp_version: "4.19.1"', 'ocp_version: "4.20.3"', 1))
    edited = cli("--root", predecessor_root, "clusters", "--json")
    assert json.loads(edited.out)[0]["version"] == "4.20.3"
    inventory.write_text(inventory.read_text().replace("vmid: 401", "vmid: 1"))
    assert cli("--root", predecessor_root, "clusters").code == 2


def test_corrupt_listing_cache_is_ignored(predecessor_root: Path, cli: CliRunner, isolated_env: Path) -> None:
    cli("--root", predecessor_root, "clusters")
    for entry in (isolated_env / ".cache" / "proxshift" / "clusters").glob("*.json"):
        entry.write_text("{not json")
    result = cli("--root", predecessor_root, "clusters")
    assert result.code == 0
    assert result.out == (GOLDEN / "clusters.txt").read_text()
