"""Take a cluster down: detach it from ACM, destroy the VMs proxshift created, archive the install dir.

Used by `deprovision` and by `provision --force` on a live cluster, so both refuse, and change, the same way:
every check that can refuse (a foreign VM on an inventory vmid, an install dir that cannot be archived) runs
before the first change; the dry run is the list a user consents to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, proxmox_for
from proxshift.errors import ProxshiftError, UserInputError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.config.install_dir import InstallDir
    from proxshift.engine.vm_run import VmRun


@dataclass
class Teardown:
    """What a teardown did, or (dry run) would do."""

    cluster: str
    run: VmRun
    acm: str | None  # what was (dry run: would be) done on the hub; None when kept or skipped
    acm_skipped: str | None = None  # why nothing was done on the hub
    archive: Path | None = None  # dry run: the install dir that would be archived; else where it went
    credentials: str | None = None  # where in Vault the cluster's credentials stay

    def items(self, shown: Callable[[Path], str]) -> list[str]:
        """What goes (and what stays), one line each: what the user is asked to consent to."""
        lines = [
            f"destroy    VM {p.spec.host} (vmid {p.spec.vmid} on {p.current_node or p.spec.node}, "
            f"{p.status or 'stopped'})"
            for p in self.run.plans
        ] or ["destroy    no VM: none of the cluster's VMs exists"]
        lines += self.run.notes
        lines.append(self.acm or f"ACM        nothing to detach ({self.acm_skipped or 'kept: --keep-acm'})")
        if self.archive is not None:
            lines.append(f"archive    {shown(self.archive)} -> {shown(self.archive / 'history')}/<UTC time>/")
        if self.credentials:
            lines.append(f"keep       the credentials in Vault at {self.credentials}")
        return lines


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
    hub_file: Path | None = None,
    prox: Proxmox | None = None,
    notify: Notify = ignore,
    report: Callable[[str], None] = ignore,
    progress: Callable[[str, str], None] = _ignore_progress,
) -> Teardown:
    from proxshift.clients.vault import KvPath
    from proxshift.engine.vm_lifecycle import deprovision_vms

    cluster = project.cluster(cluster_name)
    install_dir = project.paths.install_dir(cluster_name)
    prox = prox or proxmox_for(project, cluster_name, notify)[0]
    # The refusals come first: the plan refuses foreign VMs, then an install dir that could not be archived.
    plan = deprovision_vms(prox, cluster, install_dir, keep_iso=keep_iso, dry_run=True)
    if not keep_files:
        _refuse_unarchivable(project, install_dir)
    credentials = str(KvPath.parse(project.settings.credentials_path).child(cluster_name))
    if dry_run:
        acm, skipped = (None, None) if keep_acm else _detach(project, cluster_name, True, acm_timeout, hub_file, notify)
        would_archive = install_dir.path if not keep_files and install_dir.path.exists() else None
        return Teardown(cluster_name, plan, acm, skipped, would_archive, credentials)
    acm, skipped = (
        (None, None) if keep_acm else _detach(project, cluster_name, False, acm_timeout, hub_file, notify, report)
    )
    run = deprovision_vms(prox, cluster, install_dir, keep_iso=keep_iso, progress=progress)
    archived = install_dir.archive() if not keep_files and not run.failed else None
    if keep_files and not run.failed:
        _mark_deprovisioned(install_dir)
    return Teardown(cluster_name, run, acm, skipped, archived, credentials)


def _refuse_unarchivable(project: Project, install_dir: InstallDir) -> None:
    blocked = install_dir.cannot_archive()
    if blocked:
        raise UserInputError(
            f"cannot move {project.paths.shown(install_dir.path)} to its history/: "
            f"{', '.join(project.paths.shown(p) for p in blocked)} is not writable",
            "nothing was changed; make it writable, or pass --keep-files to leave the files where they are",
        )


def _mark_deprovisioned(install_dir: InstallDir) -> None:
    """--keep-files: the state file says the cluster was taken down (`credentials` tells, `provision` rebuilds)."""
    from proxshift.engine.state import State

    if not install_dir.state_file.is_file():
        return
    with contextlib.suppress(ProxshiftError, OSError):  # an unusable state file is refused by the next provision
        State(install_dir.state_file).mark_deprovisioned()


def _detach(
    project: Project,
    cluster_name: str,
    dry_run: bool,
    timeout: float,
    hub_file: Path | None,
    notify: Notify,
    report: Callable[[str], None] = ignore,
) -> tuple[str | None, str | None]:
    """(what was done, why nothing was done)."""
    from proxshift.engine.acm_flow import acm_context, acm_detach

    try:
        context = acm_context(project, cluster_name, "manual", hub_file, notify, connect=not dry_run)
    except ProxshiftError as exc:
        return None, exc.message
    if context.skipped:
        return None, context.skipped
    if not dry_run:
        acm_detach(context, timeout, report)
    return f"detach     ManagedCluster {cluster_name} from hub {context.hub_name}", None
