"""`proxshift backup`: a cluster's listed Secrets and its certificates into Vault, where a rebuild finds them.

Each Secret goes to `<vault_path>/backups/<cluster>/<namespace>/<name>` (keys type, data, labels,
annotations; KV v2 keeps the history), tagged with its role (secret, ingress, api) in the secret's
custom metadata. Nothing is written when Vault already holds the same; values are never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, vault_for
from proxshift.engine.post_install import cluster_api, settings_for
from proxshift.errors import UserInputError

if TYPE_CHECKING:
    from proxshift.clients.cluster_secrets import Record, SecretRef
    from proxshift.clients.kube import Kube
    from proxshift.clients.vault import KvPath, Vault

Report = Callable[[str], None]


@dataclass(frozen=True)
class Saved:
    """One Secret's backup: where it is in Vault and what happened (written, unchanged, would be written)."""

    namespace: str
    name: str
    role: str
    location: str
    result: str

    def line(self) -> str:
        return f"Secret {self.namespace}/{self.name} ({self.role}) -> {self.location}: {self.result}"


def api_host(project: Project, cluster_name: str) -> str:
    """The API's name the named certificate is for (api-int stays the cluster's own)."""
    cluster = project.cluster(cluster_name)
    return f"api.{cluster_name}.{cluster.base_domain}"


def backups_root(project: Project, cluster_name: str) -> KvPath:
    from proxshift.clients.vault import KvPath

    return KvPath.parse(project.settings.credentials_path).child(f"backups/{cluster_name}")


def configured(project: Project, cluster_name: str) -> bool:
    backup = settings_for(project, cluster_name).backup
    return backup is not None and backup.configured


def wanted(project: Project, cluster_name: str, kube: Kube) -> list[SecretRef]:
    """The listed Secrets, then (cluster_certs) the certificates' Secrets: a listed one that is also a
    certificate is backed up once, with its role."""
    from proxshift.clients.cluster_secrets import SecretRef, certificate_refs

    config = settings_for(project, cluster_name).backup
    if config is None or not config.configured:
        raise UserInputError(
            f"no backups are configured for {cluster_name}",
            "list Secrets in post_install.backup.secrets, or set post_install.backup.cluster_certs (docs/gitops.md)",
        )
    refs = [SecretRef(s.namespace, s.name) for s in config.secrets]
    if config.cluster_certs:
        for ref in certificate_refs(kube, api_host(project, cluster_name)):
            refs = [r for r in refs if (r.namespace, r.name) != (ref.namespace, ref.name)] + [ref]
    return refs


def _save(vault: Vault, root: KvPath, cluster: str, record: Record, dry_run: bool) -> Saved:
    ref = record.ref
    location = root.child(f"{ref.namespace}/{ref.name}")
    tags = {"cluster": cluster, "role": ref.role}
    existing = vault.tags(location)
    if existing is not None:
        current = vault.read(location)
        if current.value == record.values and {k: existing.get(k) for k in tags} == tags:
            return Saved(ref.namespace, ref.name, ref.role, str(location), f"unchanged (version {current.version})")
    if dry_run:
        return Saved(ref.namespace, ref.name, ref.role, str(location), "would be written")
    version = vault.write(location, record.values, tags)
    return Saved(ref.namespace, ref.name, ref.role, str(location), f"written (version {version})")


def backup(
    project: Project,
    cluster_name: str,
    *,
    dry_run: bool = False,
    kube: Kube | None = None,
    notify: Notify = ignore,
    report: Report = ignore,
) -> list[Saved]:
    """Read each wanted Secret from the cluster and keep it in Vault; a listed one that is not there is a
    notice. --dry-run reads the cluster and Vault and writes nothing."""
    from proxshift.clients.cluster_secrets import read_records

    kube = kube or cluster_api(project, cluster_name, notify)
    records, missing = read_records(kube, wanted(project, cluster_name, kube))
    for ref in missing:
        notify(f"Secret {ref} does not exist in {cluster_name}: not backed up")
    vault = vault_for(project, notify)
    root = backups_root(project, cluster_name)
    saved = []
    for record in records:
        saved.append(_save(vault, root, cluster_name, record, dry_run))
        report(saved[-1].line())
    return saved
