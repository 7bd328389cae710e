"""An installed cluster for the phases that finish it: the inventory's `multi`, its API emulator, its kubeconfig
in the install directory (Vault, an OpenBao, holds none for it: the install directory's is used)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from proxshift.clients.openshift import DEFAULT_CLASS
from proxshift.config.paths import discover_paths
from proxshift.config.project import Project, load_project
from proxshift.engine.events import Event
from proxshift.engine.phases.base import Options
from proxshift.engine.post import Post
from proxshift.engine.state import State
from proxshift.lab.assisted import AssistedService
from proxshift.lab.cluster_sim import ClusterSimulation
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.serving import make_certificates
from tests.conftest import ProjectFiles

if TYPE_CHECKING:
    from tests.integration.conftest import VaultFixture

HOSTS = [
    {"hostname": "m-node1", "role": "master"},
    {"hostname": "m-node2", "role": "master"},
    {"hostname": "m-node3", "role": "master"},
    {"hostname": "m-node4", "role": "worker"},
]
BETA_DEFAULT = "storageclass.beta.kubernetes.io/is-default-class"


@dataclass
class Installed:
    """The inventory's `multi` cluster, installed: its API, and its kubeconfig in the install directory."""

    files: ProjectFiles
    sim: ClusterSimulation

    @property
    def kube(self) -> KubeApiServer:
        return self.sim.kube

    def project(self) -> Project:
        return load_project(discover_paths(self.files.write()))

    def post(self, **options: Any) -> list[Event]:
        """`proxshift post multi` without health (there is no Proxmox here), or with these options."""
        events: list[Event] = []
        Post(self.project(), "multi", Options(wait_poll=0.05, **({"skip": ("health",)} | options)), events.append).run()
        return events

    def node(self, name: str) -> dict[str, Any]:
        found = self.kube.store.find("v1", "Node", name)
        assert found is not None
        return found

    def labels(self, name: str) -> dict[str, str]:
        return dict(self.node(name)["metadata"].get("labels") or {})

    def patches(self, kind: str = "nodes") -> int:
        return sum(1 for method, path in self.kube.requests if method == "PATCH" and f"/{kind}/" in path)

    def defaults(self) -> list[str]:
        return sorted(
            sc["metadata"]["name"]
            for sc in self.kube.store.list(self.kube.store.types[("storage.k8s.io", "v1", "storageclasses")], None, "")
            if "true" in {(sc["metadata"].get("annotations") or {}).get(k) for k in (DEFAULT_CLASS, BETA_DEFAULT)}
        )


@pytest.fixture
def installed(project: ProjectFiles, tmp_path: Path, vault: VaultFixture) -> Iterator[Installed]:
    project.site["vault_path"] = f"{vault.mount}/data/openshift"
    kube = KubeApiServer(make_certificates(tmp_path / "pki"), secrets.token_hex(16)).start()
    agent = AssistedService("multi", HOSTS).start()
    sim = ClusterSimulation("multi", "lab.example", "4.19.1", HOSTS, kube, agent)
    sim.api_up()
    sim.complete()
    auth = project.root / "ocp_install" / "multi" / "auth"
    auth.mkdir(parents=True)
    (auth / "kubeconfig").write_text(kube.kubeconfig("multi"))
    State(project.root / "ocp_install" / "multi" / "state.json").record("wait", "installed", 0.0)  # as adopt does
    try:
        yield Installed(project, sim)
    finally:
        agent.stop()
        kube.stop()
