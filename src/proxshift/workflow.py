"""Compose the service modules into what commands do; the only place that wires them together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import OperationError, Problem, ProxshiftError
from .manifests import RenderedManifests, WriteReport, build_context, check, render, require_valid, write
from .project import Project
from .secret import InstallSecrets

if TYPE_CHECKING:
    from .inventory import Cluster
    from .proxmox import Proxmox
    from .vault import Vault


@dataclass
class ManifestsResult:
    """What `manifests` did: the redacted texts (for printing) and what was written."""

    redacted: RenderedManifests
    warnings: list[Problem]
    report: WriteReport | None = None
    vault_paths: list[str] = field(default_factory=list)


Notify = Callable[[str], None]


def _ignore(message: str) -> None:
    del message


def _vault(project: Project, notify: Notify) -> Vault:
    from .vault import Vault, vault_access

    access = vault_access(project.settings)
    for warning in access.warnings:
        notify(warning)
    return Vault(access)


def generate_manifests(
    project: Project,
    cluster_name: str,
    *,
    dry_run: bool = False,
    no_vault: bool = False,
    output_dir: Path | None = None,
    templates_dir: Path | None = None,
    notify: Notify = _ignore,
) -> ManifestsResult:
    """Read the secrets, render, check, and (unless dry-run / no-vault) write both manifests."""
    from .vault import item_sources

    cluster = project.cluster(cluster_name)
    settings = project.settings
    sources = item_sources(settings)
    with_ca = "ca-bundle" in {k for k, v in sources.items() if v != "ca-bundle"}
    if no_vault:
        secrets = InstallSecrets.placeholders(sources, with_ca)
    else:
        secrets = _vault(project, notify).read_install_secrets(settings)
    inventory_file = project.inventory.file
    templates = templates_dir or project.paths.root / "templates"
    context = build_context(cluster, settings, secrets, inventory_file)
    rendered = render(context, templates)
    problems = check(rendered, context, secrets_are_real=not no_vault)
    require_valid(problems)
    placeholders = InstallSecrets.placeholders(sources, secrets.ca_bundle is not None)
    redacted = (
        rendered if no_vault else render(build_context(cluster, settings, placeholders, inventory_file), templates)
    )
    result = ManifestsResult(redacted, [p for p in problems if not p.is_error])
    if dry_run or (no_vault and output_dir is None):
        return result
    destination = output_dir or project.paths.install_dir(cluster_name)
    try:
        result.report = write(rendered, destination)
    except OSError as exc:
        raise OperationError(
            f"cannot write manifests to {destination}: {exc.strerror}", "check the directory's permissions"
        ) from None
    return result


@dataclass
class VaultCheckRow:
    item: str
    path: str
    ok: bool
    detail: str


def check_vault(project: Project, cluster_name: str | None, notify: Notify = _ignore) -> list[VaultCheckRow]:
    """Read every input item and probe write access to the credentials path, without writing."""
    from .secret import SecretFormatError, check_ca_bundle, check_ssh_public_keys, normalize_pull_secret
    from .vault import KvPath, install_items

    settings = project.settings
    if cluster_name:
        project.cluster(cluster_name)
    vault = _vault(project, notify)
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


def proxmox_for(project: Project, cluster_name: str, notify: Notify = _ignore) -> tuple[Proxmox, Cluster]:
    """A Proxmox connection for this cluster, with credentials from the environment or Vault."""
    from .vault import KvPath
    from .vms import connect

    cluster = project.cluster(cluster_name)

    def read_vault(path: str) -> dict[str, Any]:
        return dict(_vault(project, notify).read(KvPath.parse(path)).value)

    return connect(project.settings, cluster, read_vault, notify), cluster
