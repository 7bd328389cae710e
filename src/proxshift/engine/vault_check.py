"""`vault check`: every input readable and well-formed, the credentials path writable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, vault_for
from proxshift.errors import ProxshiftError

if TYPE_CHECKING:
    pass


@dataclass
class VaultCheckRow:
    item: str
    path: str
    ok: bool
    detail: str


def check_vault(project: Project, cluster_name: str | None, notify: Notify = ignore) -> list[VaultCheckRow]:
    """Read every input item and probe write access to the credentials path, without writing."""
    from proxshift.clients.vault import KvPath, install_items
    from proxshift.secret import SecretFormatError, check_ca_bundle, check_ssh_public_keys, normalize_pull_secret

    settings = project.settings
    if cluster_name:
        project.cluster(cluster_name)
    vault = vault_for(project, notify)
    vault.client()  # unreachable / sealed / bad token fail here, once, with their own message
    checks: dict[str, Callable[[Any], str]] = {
        "pull-secret": normalize_pull_secret,
        "ssh-key": check_ssh_public_keys,
        "ca-bundle": check_ca_bundle,
    }
    rows = []
    for role, item in install_items(settings).items():
        location = str(KvPath.parse(item.path))
        try:
            read = vault.read_key(item)
            checks[role](read.value)
            rows.append(VaultCheckRow(item.name, f"{location} key {item.key}", True, f"version {read.version}"))
        except SecretFormatError as exc:
            rows.append(VaultCheckRow(item.name, f"{location} key {item.key}", False, f"malformed: {exc}"))
        except ProxshiftError as exc:
            rows.append(VaultCheckRow(item.name, f"{location} key {item.key}", False, exc.message))
    base = KvPath.parse(settings.credentials_path)
    target = base.child(cluster_name) if cluster_name else base.child("<cluster>")
    probe = str(target) if cluster_name else f"{base.api_path}/+"
    capabilities = set(vault.capabilities([probe])[probe])
    writable = bool(capabilities & {"create", "update", "root"})
    detail = ", ".join(sorted(capabilities)) or "no capabilities"
    rows.append(VaultCheckRow("credentials", str(target), writable, detail if writable else f"cannot write ({detail})"))
    return rows
