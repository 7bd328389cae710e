"""Shared fixtures: isolated environment, in-process CLI runs, example projects."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxshift.cli import run
from proxshift.config.environment import CLEARED

FIXTURES = Path(__file__).parent / "fixtures"
PREDECESSOR = FIXTURES / "predecessor"
REPO = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No test may read the developer's ~/.proxshift, ~/.vault-token or any variable proxshift reads."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    return home


@dataclass
class Result:
    code: int
    out: str
    err: str


CliRunner = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run proxshift in-process, exactly as the console script does."""

    def invoke(*args: str | Path) -> Result:
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def predecessor_root(tmp_path: Path) -> Path:
    """A root holding the predecessor's inventory and site config, unchanged."""
    (tmp_path / "inventory").mkdir()
    (tmp_path / "config").mkdir()
    shutil.copy(PREDECESSOR / "clusters.yml", tmp_path / "inventory" / "clusters.yml")
    shutil.copy(PREDECESSOR / "site-config.yaml", tmp_path / "config" / "site-config.yaml")
    return tmp_path


def base_site_config() -> dict[str, Any]:
    return {
        "network_defaults": {
            "base_domain": "lab.example",
            "subnet": "10.0.0.0/24",
            "gateway": "10.0.0.1",
            "dns_servers": ["10.0.0.2"],
            "interface_name": "ens18",
        },
        "vault_items": [
            {"name": "pull-secret", "path": "secrets/data/openshift/pullsecret", "key": "secret"},
            {"name": "ssh-key", "path": "secrets/data/ssh", "key": "key"},
        ],
    }


def _host(vmid: int, mac: str, node: str = "pve1") -> dict[str, Any]:
    return {
        "pve_node": node,
        "vmid": vmid,
        "memory": 32768,
        "cores": 8,
        "disks": {"scsi0": {"storage": "local-lvm", "size": 120}},
        "nics": {"net0": {"model": "virtio", "mac": mac, "bridge": "vmbr0", "tag": 42}},
    }


def base_inventory() -> dict[str, Any]:
    """A small valid inventory: one SNO and one 3-master + 1-worker cluster."""
    return {
        "all": {
            "children": {
                "clusters": {
                    "children": {
                        "sno": {
                            "vars": {"cluster_type": "sno", "base_ip": "10.0.0.50", "ocp_version": "4.19.1"},
                            "hosts": {"sno-node1": _host(301, "BC:24:11:00:00:01")},
                        },
                        "multi": {
                            "vars": {
                                "cluster_type": "multi_node",
                                "base_ip": "10.0.0.10",
                                "api_vip": "10.0.0.20",
                                "ingress_vip": "10.0.0.21",
                                "ocp_version": "4.19.1",
                            },
                            "hosts": {
                                f"m-node{i}": _host(400 + i, f"BC:24:11:00:01:0{i}", f"pve{i}") for i in range(1, 5)
                            },
                        },
                    }
                }
            }
        }
    }


@dataclass
class ProjectFiles:
    root: Path
    inventory: dict[str, Any]
    site: dict[str, Any]

    def cluster(self, name: str) -> dict[str, Any]:
        return self.inventory["all"]["children"]["clusters"]["children"][name]  # type: ignore[no-any-return]

    def host(self, cluster: str, host: str) -> dict[str, Any]:
        return self.cluster(cluster)["hosts"][host]  # type: ignore[no-any-return]

    def write(self) -> Path:
        (self.root / "inventory").mkdir(exist_ok=True)
        (self.root / "config").mkdir(exist_ok=True)
        (self.root / "inventory" / "clusters.yml").write_text(yaml.safe_dump(self.inventory, sort_keys=False))
        (self.root / "config" / "site-config.yaml").write_text(yaml.safe_dump(self.site, sort_keys=False))
        return self.root


@pytest.fixture
def project(tmp_path: Path) -> ProjectFiles:
    return ProjectFiles(tmp_path, base_inventory(), base_site_config())
