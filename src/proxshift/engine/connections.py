"""Connections to Vault and Proxmox for a project's cluster, credentials from the environment or Vault."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from proxshift.config.project import Project

if TYPE_CHECKING:
    from proxshift.clients.proxmox import Proxmox
    from proxshift.clients.vault import Vault
    from proxshift.config.inventory import Cluster


Notify = Callable[[str], None]


def ignore(message: str) -> None:
    del message


def vault_for(project: Project, notify: Notify) -> Vault:
    from proxshift.clients.vault import Vault, vault_access

    access = vault_access(project.settings)
    for warning in access.warnings:
        notify(warning)
    return Vault(access)


def proxmox_for(project: Project, cluster_name: str, notify: Notify = ignore) -> tuple[Proxmox, Cluster]:
    """A Proxmox connection for this cluster, with credentials from the environment or Vault."""
    from proxshift.clients.vault import KvPath
    from proxshift.engine.vms import connect

    cluster = project.cluster(cluster_name)

    def read_vault(path: str) -> dict[str, Any]:
        return dict(vault_for(project, notify).read(KvPath.parse(path)).value)

    return connect(project.settings, cluster, read_vault, notify), cluster
