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
    backup: str | None = None  # dry run: where in Vault the configured backups go first
    refusal: ProxshiftError | None = None  # dry run: why the teardown would refuse (the hub cannot be reached)

    def items(self, shown: Callable[[Path], str]) -> list[str]:
        """What goes (and what stays), one line each: what the user is asked to consent to."""
        lines = [f"backup     the configured Secrets, first, to Vault at {self.backup}/"] if self.backup else []
        lines += [
            f"destroy    VM {p.spec.host} (vmid {p.spec.vmid} on {p.current_node or p.spec.node}, "
            f"{p.status or 'stopped'})"
            for p in self.run.plans
        ] or ["destroy    no VM: none of the cluster's VMs exists"]
        lines += self.run.notes
        if self.refusal is not None:
            lines.append(f"ACM        {self.refusal.message}")
        else:
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
    backup: bool = True,
    acm_timeout: float = 600,
    hub_file: Path | None = None,
    prox: Proxmox | None = None,
    notify: Notify = ignore,
    report: Callable[[str], None] = ignore,
    progress: Callable[[str, str], None] = _ignore_progress,
) -> Teardown:
    from proxshift.clients.vault import KvPath
    from proxshift.engine.backup import backups_root, configured
    from proxshift.engine.vm_lifecycle import deprovision_vms

    cluster = project.cluster(cluster_name)
    install_dir = project.paths.install_dir(cluster_name)
    prox = prox or proxmox_for(project, cluster_name, notify)[0]
    # The refusals come first: the plan refuses foreign VMs, then an install dir that could not be archived.
    plan = deprovision_vms(prox, cluster, install_dir, keep_iso=keep_iso, dry_run=True)
    if not keep_files:
        _refuse_unarchivable(project, install_dir)
    credentials = str(KvPath.parse(project.settings.credentials_path).child(cluster_name))
    backing_up = backup and configured(project, cluster_name)
    # A hub that is configured but out of reach refuses too: a teardown would leave the ManagedCluster on it.
    acm, skipped, refusal = (None, None, None) if keep_acm else _plan_detach(project, cluster_name, hub_file, notify)
    if dry_run:
        would_archive = install_dir.path if not keep_files and install_dir.path.exists() else None
        backs_up = str(backups_root(project, cluster_name)) if backing_up else None
        return Teardown(cluster_name, plan, acm, skipped, would_archive, credentials, backs_up, refusal)
    if refusal is not None:
        raise refusal
    if backing_up:
        _backup_first(project, cluster_name, notify, report)
    if acm is not None:
        _detach(project, cluster_name, acm_timeout, hub_file, notify, report)
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


def _backup_first(project: Project, cluster_name: str, notify: Notify, report: Callable[[str], None]) -> None:
    """`backup` before anything goes. A cluster whose API cannot be reached (no kubeconfig, no Vault to read
    it from, no answer) has nothing to read: a notice, and its earlier backups stay in Vault. A failure once
    the cluster answers stops the teardown, before anything changed."""
    from proxshift.clients.kube import KubeUnreachable
    from proxshift.engine.backup import backup
    from proxshift.engine.post_install import cluster_api
    from proxshift.errors import OperationError

    try:
        kube = cluster_api(project, cluster_name, notify)
    except ProxshiftError as exc:
        notify(f"backup skipped: {exc.message}")
        return
    try:
        backup(project, cluster_name, kube=kube, notify=notify, report=report)
    except KubeUnreachable as exc:
        notify(f"backup skipped: {exc.message}; earlier backups in Vault stay")
    except ProxshiftError as exc:
        raise OperationError(
            f"backup before deprovision failed: {exc.message}", f"{exc.hint}; or skip it with --no-backup"
        ) from None


def _plan_detach(
    project: Project, cluster_name: str, hub_file: Path | None, notify: Notify
) -> tuple[str | None, str | None, ProxshiftError | None]:
    """(what would be done on the hub, why nothing would be, why the teardown must refuse). Read-only: the
    hub's kubeconfig is read and the ManagedCluster looked up, so a hub out of reach is known before any change.
    """
    from proxshift.clients.acm import MANAGED_CLUSTER
    from proxshift.engine.acm_flow import acm_context, hub_absent, hub_kube
    from proxshift.errors import OperationError

    not_configured = hub_absent(project, cluster_name, hub_file)
    try:
        context = acm_context(project, cluster_name, "manual", hub_file, notify, connect=False)
        if context.skipped:
            return None, context.skipped, None
        hub_name, hub = hub_kube(project, notify, hub_file=hub_file)
        present = hub.get(*MANAGED_CLUSTER, cluster_name) is not None
    except ProxshiftError as exc:
        if not_configured:  # no hub of its own: one found by the oc login fallback is only tried
            return None, exc.message, None
        return (
            None,
            None,
            OperationError(
                f"cannot detach ManagedCluster {cluster_name} from the ACM hub: {exc.message}",
                f"nothing was changed; run again with --keep-acm to leave the ManagedCluster on the hub "
                f"(detach it later: proxshift acm detach {cluster_name})",
            ),
        )
    if not present:
        return None, f"ManagedCluster {cluster_name} is not on hub {hub_name}", None
    return f"detach     ManagedCluster {cluster_name} from hub {hub_name}", None, None


def _detach(
    project: Project,
    cluster_name: str,
    timeout: float,
    hub_file: Path | None,
    notify: Notify,
    report: Callable[[str], None],
) -> None:
    from proxshift.engine.acm_flow import acm_context, acm_detach

    acm_detach(acm_context(project, cluster_name, "manual", hub_file, notify), timeout, report)
