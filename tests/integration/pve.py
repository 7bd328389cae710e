"""A fakepve serving the Proxmox nodes and storages of the predecessor's inventory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakepve.pytest_plugin import _Serving

from proxshift.lab.pve import LabPve

ISO_NAMES = (
    "ocp-agent.x86_64.iso",
    "ocp3-agent.x86_64.iso",
    "ocp-sno1-agent.x86_64.iso",
    "ocp-sno2-agent.x86_64.iso",
    "ocp-sno3-agent.x86_64.iso",
)


class RecordingPve(LabPve):
    """FakePve that also records each answer's status, so tests can assert no 4xx on a happy path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statuses: list[tuple[str, str, int]] = []

    async def _answer(self, request: Any, handler: Any, generic: Any, path_node: Any) -> Any:
        response = await super()._answer(request, handler, generic, path_node)
        self.statuses.append((request.method, request.path, response.status))
        return response


@dataclass
class PveLab:
    pve: RecordingPve
    cafile: str

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.pve.requests if m not in ("GET", "HEAD")]

    def errors(self) -> list[tuple[str, str, int]]:
        return [s for s in self.pve.statuses if s[2] >= 400]

    def configure(self, root: Path, **proxmox: Any) -> None:
        """Point the root's site config at this fake (TLS verified with its CA)."""
        config = root / "config" / "site-config.yaml"
        data = yaml.safe_load(config.read_text())
        data["proxmox"] = {
            "host": "127.0.0.1",
            "port": self.pve.port,
            "ca_cert": self.cafile,
            "poll_interval": 0.05,
            **proxmox,
        }
        text = config.read_text()
        config.write_text(text + "\nproxmox: " + yaml.safe_dump(data["proxmox"], default_flow_style=True))

    def foreign_vm(self, vmid: int, node: str = "pve1", name: str = "someones-db") -> Any:
        return self.pve.add_vm(
            vmid,
            name,
            node=node,
            config={"memory": "2048", "cores": 2, "scsi0": f"local-lvm:vm-{vmid}-disk-0,size=8G"},
        )


def serve(pki: tuple[str, str], time_scale: float = 0) -> Iterator[PveLab]:
    pve = RecordingPve(user="root@pam", password="secret", host="127.0.0.1", port=0)
    pve.time_scale = time_scale
    for node in ("pve2", "pve3", "pve4"):
        pve.add_node(node)
    pve.storages["your_nfs"] = {
        "type": "nfs",
        "active": 1,
        "content": "iso",
        "files": set(),
        "path": "/mnt/pve/nfs",
        "server": "192.0.2.5",
        "export": "/iso",
        "shared": 1,
        "avail": 64 * 1024**3,
    }
    serving = _Serving(pve, *pki)
    try:
        yield PveLab(pve, pki[0])
    finally:
        serving.stop()


@pytest.fixture
def pve_lab(_fakepve_pki: tuple[str, str], request: pytest.FixtureRequest) -> Iterator[PveLab]:
    marker = request.node.get_closest_marker("time_scale")
    yield from serve(_fakepve_pki, marker.args[0] if marker else 0)
