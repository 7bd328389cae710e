"""Take a cluster down: detach it from ACM, destroy the VMs proxshift created, archive the install dir.

Used by `deprovision` and by `provision --force` on a live cluster, so both refuse, and change, the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, proxmox_for
from proxshift.errors import ProxshiftError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.engine.vm_run import VmRun


@dataclass
class Teardown:
    """What a teardown did, or (dry run) would do."""

    cluster: str
    run: VmRun
    acm: str | None  # what was (dry run: would be) done on the hub; None when kept or skipped
    acm_skipped: str | None = None  # why nothing was done on the hub
    archive: Path | None = None


def _ignore_progress(host: str, message: str) -> None:
    del host, message


def deprovision(
    project: Project,
    cluster_name: str,
    *,
    keep_iso: bool = False,
    keep_acm: bool = False,
    keep_files: bool = False,
    dry_run: bool = False,
    acm_timeout: float = 600,
    prox: Proxmox | None = None,
    notify: Notify = ignore,
    report: Callable[[str], None] = ignore,
    progress: Callable[[str, str], None] = _ignore_progress,
) -> Teardown:
    from proxshift.engine.vm_lifecycle import deprovision_vms

    cluster = project.cluster(cluster_name)
    install_dir = project.paths.install_dir(cluster_name)
    prox = prox or proxmox_for(project, cluster_name, notify)[0]
    # The plan refuses foreign VMs: it runs before the first change (the ACM detach), not after it.
    plan = deprovision_vms(prox, cluster, install_dir, keep_iso=keep_iso, dry_run=True)
    acm, skipped = (None, None) if keep_acm else _detach(project, cluster_name, dry_run, acm_timeout, notify, report)
    if dry_run:
        would_archive = install_dir.path if not keep_files and install_dir.path.exists() else None
        return Teardown(cluster_name, plan, acm, skipped, would_archive)
    run = deprovision_vms(prox, cluster, install_dir, keep_iso=keep_iso, progress=progress)
    archived = install_dir.archive() if not keep_files and not run.failed else None
    return Teardown(cluster_name, run, acm, skipped, archived)


def _detach(
    project: Project, cluster_name: str, dry_run: bool, timeout: float, notify: Notify, report: Callable[[str], None]
) -> tuple[str | None, str | None]:
    """(what was done, why nothing was done)."""
    from proxshift.engine.acm_flow import acm_context, acm_detach

    try:
        context = acm_context(project, cluster_name, "manual", notify=notify, connect=not dry_run)
    except ProxshiftError as exc:
        return None, exc.message
    if context.skipped:
        return None, context.skipped
    if not dry_run:
        acm_detach(context, timeout, report)
    return f"detach     ManagedCluster {cluster_name} from hub {context.hub_name}", None
