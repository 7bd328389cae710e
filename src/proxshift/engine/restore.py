"""Restore: a cluster's backed-up Secrets (from Vault, or the predecessor's files) applied to the new cluster.

Each Secret is applied with its namespace created if missing, built from the backup alone (no uid,
resourceVersion, creationTimestamp, managedFields, ownerReferences). Then the certificates: the ingress
default first (wait for ClusterOperator ingress), then the API's named certificate for
api.<cluster>.<domain> (never api-int). Its CA is added to the kubeconfig stored in Vault (and the
install directory's) before the API serves it, so proxshift's own TLS checks keep working (hive #1919).
It runs before `gitops`, so certificates exist before anything that would request new ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.config.project import Project
from proxshift.engine.backup import api_host, backups_root
from proxshift.engine.connections import Notify, ignore, vault_for
from proxshift.engine.post_install import cluster_api
from proxshift.errors import UserInputError

if TYPE_CHECKING:
    from proxshift.clients.cluster_secrets import Record, Role
    from proxshift.clients.kube import Kube

Report = Callable[[str], None]
ROLES: dict[str, Role] = {"secret": "secret", "ingress": "ingress", "api": "api"}


def from_vault(project: Project, cluster_name: str, notify: Notify = ignore) -> list[Record]:
    """Every backup of the cluster in Vault, with the role it was saved with."""
    from proxshift.clients.cluster_secrets import Record, SecretRef

    vault = vault_for(project, notify)
    root = backups_root(project, cluster_name)
    records = []
    for folder in vault.list_keys(root):
        if not folder.endswith("/"):
            continue
        namespace = folder.rstrip("/")
        for name in vault.list_keys(root.child(namespace)):
            location = root.child(f"{namespace}/{name}")
            role = (vault.tags(location) or {}).get("role", "secret")
            values = vault.read(location).value
            if name.endswith("/") or not isinstance(values, dict) or not isinstance(values.get("data"), dict):
                notify(f"{location} is not a backup proxshift wrote: left alone")
                continue
            records.append(Record(SecretRef(namespace, name, ROLES.get(role, "secret")), values))
    return records


def from_dir(directory: Path, notify: Notify = ignore) -> list[Record]:
    """The predecessor's `<namespace>-<name>.yaml` files: only Secrets, only files named after their Secret
    (it applied every file of the directory, whatever it held)."""
    from proxshift.clients.cluster_secrets import SecretRef, record_of
    from proxshift.config.yamlio import load_yaml

    if not directory.is_dir():
        raise UserInputError(f"{directory} is not a directory", "give the predecessor's backup_dir")
    records = []
    for path in sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()):
        document, _ = load_yaml(path, str(path))
        metadata = (document.get("metadata") or {}) if isinstance(document, dict) else {}
        name, namespace = metadata.get("name"), metadata.get("namespace")
        if not isinstance(document, dict) or document.get("kind") != "Secret" or not name or not namespace:
            notify(f"{path.name} is not a Secret with a name and namespace: skipped")
            continue
        if path.stem != f"{namespace}-{name}":
            notify(f"{path.name} holds Secret {namespace}/{name}, not a file named {namespace}-{name}.yaml: skipped")
            continue
        records.append(record_of(SecretRef(str(namespace), str(name)), document))
    return records


def restore(
    project: Project,
    cluster_name: str,
    *,
    source: Path | None = None,
    dry_run: bool = False,
    timeout: float = 20 * 60,
    poll: float = 5.0,
    kube: Kube | None = None,
    notify: Notify = ignore,
    report: Report = ignore,
) -> list[str]:
    """Apply every backup (Vault's, or `source`'s files), then repoint ingress and the API; the lines it
    reported (--dry-run: what it would do)."""
    records = from_dir(source, notify) if source else from_vault(project, cluster_name, notify)
    records.sort(key=lambda r: list(ROLES).index(r.ref.role))  # the certificates last: ingress, then the API
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        report(line)

    if not records:
        where = source or backups_root(project, cluster_name)
        say(f"nothing to restore: no backups of {cluster_name} in {where}")
        return lines
    if dry_run:
        for record in records:
            say(f"would apply Secret {record.ref} ({record.ref.role})")
        return lines
    kube = kube or cluster_api(project, cluster_name, notify)
    _apply(kube, records, say)
    kube = _certificates(project, cluster_name, kube, records, timeout, poll, say, notify)
    return lines


def _apply(kube: Kube, records: list[Record], say: Report) -> None:
    from proxshift.clients.cluster_secrets import apply_record

    for record in records:
        say(f"Secret {record.ref}: {apply_record(kube, record)}")


def _certificates(
    project: Project,
    cluster_name: str,
    kube: Kube,
    records: list[Record],
    timeout: float,
    poll: float,
    say: Report,
    notify: Notify,
) -> Kube:
    """Ingress first, then the API (its CA trusted before it is served); the connection to go on with."""
    from proxshift.clients import cluster_secrets as certs

    ingress = next((r for r in records if r.ref.role == "ingress"), None)
    if ingress is not None:
        if certs.point_ingress(kube, ingress.ref.name):
            say(f"IngressController default: serves {ingress.ref}")
            certs.wait_operator(kube, "ingress", timeout, poll)
            say("ClusterOperator ingress: Available")
        else:
            say(f"IngressController default: unchanged (serves {ingress.ref})")
    api = next((r for r in records if r.ref.role == "api"), None)
    if api is None:
        return kube
    ca = certs.ca_certificates(api)
    if ca and trust_ca(project, cluster_name, ca, notify):
        say("the stored kubeconfig now trusts the CA of the API's certificate")
        kube = cluster_api(project, cluster_name, notify)
    host = api_host(project, cluster_name)
    if certs.point_api(kube, api.ref.name, host):
        say(f"APIServer cluster: serves {api.ref} for {host}")
        certs.wait_operator(kube, "kube-apiserver", timeout, poll)
        say("ClusterOperator kube-apiserver: Available")
    else:
        say(f"APIServer cluster: unchanged (serves {api.ref} for {host})")
    return kube


def trust_ca(project: Project, cluster_name: str, ca_pem: str, notify: Notify = ignore) -> bool:
    """Add the CA to every cluster entry of the stored kubeconfig (Vault's, and the install directory's when
    there is one); False when each already had it."""
    from proxshift.clients.vault import KvPath
    from proxshift.files import MAKE_WRITABLE, write_or_fail
    from proxshift.secret import Secret

    vault = vault_for(project, notify)
    base = KvPath.parse(project.settings.credentials_path)
    stored = vault.find_credentials(base, cluster_name)
    changed = False
    if stored is not None:
        updated = _with_ca(stored["kubeconfig"].reveal(), ca_pem)
        if updated is not None:
            vault.write_credentials(base, cluster_name, {**stored, "kubeconfig": Secret(updated, "kubeconfig")})
            changed = True
    local = project.paths.install_dir(cluster_name).kubeconfig
    if local.is_file():
        updated = _with_ca(local.read_text(), ca_pem)
        if updated is not None:
            hint = f"{MAKE_WRITABLE}, then run again" + (" (Vault's copy trusts the CA already)" if changed else "")
            write_or_fail(local, updated, "the kubeconfig", hint)
            changed = True
    return changed


def _with_ca(kubeconfig: str, ca_pem: str) -> str | None:
    import base64

    import yaml

    from proxshift.clients.cluster_secrets import pem_blocks

    data: dict[str, Any] = yaml.safe_load(kubeconfig)
    added = False
    for entry in data.get("clusters") or []:
        cluster = entry.get("cluster") or {}
        current = base64.b64decode(cluster.get("certificate-authority-data") or "").decode(errors="replace")
        have = {re.sub(r"\s", "", block) for block in pem_blocks(current)}
        new = [block for block in pem_blocks(ca_pem) if re.sub(r"\s", "", block) not in have]
        if new:
            bundle = current if current.endswith("\n") or not current else current + "\n"
            cluster["certificate-authority-data"] = base64.b64encode((bundle + "".join(new)).encode()).decode()
            added = True
    return yaml.safe_dump(data, sort_keys=False) if added else None
