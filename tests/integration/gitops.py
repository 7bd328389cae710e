"""A project whose site config points at this test's Vault mount, and the cluster API of a post-install lab."""

from __future__ import annotations

from typing import Any

from proxshift.clients.kube import Kube
from proxshift.config.paths import discover_paths
from proxshift.config.project import Project, load_project
from tests.conftest import ProjectFiles
from tests.integration.conftest import VaultFixture
from tests.integration.post_install import PostInstallLab

POLL = 0.05


def gitops_project(project: ProjectFiles, vault: VaultFixture, post_install: dict[str, Any]) -> Project:
    """The base project, credentials at <mount>/openshift, with this post_install section."""
    project.site["vault_path"] = f"{vault.mount}/data/openshift"
    project.site["post_install"] = post_install
    return load_project(discover_paths(project.write()))


def cluster_kube(lab: PostInstallLab) -> Kube:
    return Kube(lab.kube.kubeconfig("sno"), "sno", timeout=5)


class Lines(list[str]):
    """The progress lines a flow reports (a `report` callable)."""

    def __call__(self, line: str) -> None:
        self.append(line)

    def ending(self, suffix: str) -> list[str]:
        return [line for line in self if line.endswith(suffix)]
