"""A cluster's VMs through their life: create, start, stop, deprovision, status.

Every command plans first (foreign VMs are refused before anything changes), then works on the
VMs in parallel; destructive steps re-read the ownership marker right before acting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from proxshift.engine.iso_upload import read_uploads, remove_uploaded_isos
from proxshift.engine.vm_plan import check_before_create, existing_ours, plan_vms, specs_for
from proxshift.engine.vm_run import Progress, VmResult, VmRun, in_parallel, quiet, timed
from proxshift.engine.vmspec import VmPlan, owner_of
from proxshift.errors import OperationError, UserInputError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.config.install_dir import InstallDir
    from proxshift.config.inventory import Cluster


def ensure_ours(prox: Proxmox, node: str, vmid: int, cluster: str, host: str) -> None:
    """Re-read the marker right before a destructive step: proof, not memory."""
    if owner_of(prox.vms.config(node, vmid)) != (cluster, host):
        raise OperationError(
            f"VM {vmid} on {node} is not proxshift's VM for {host} of {cluster}; left alone",
            "nothing was changed on it",
        )


def _each(plans: list[VmPlan], action: str, step: Callable[[VmPlan, str], str]) -> list[VmResult]:
    """Run `step(plan, node)` for every VM in parallel; each outcome recorded, none lost."""

    def one(plan: VmPlan) -> VmResult:
        node = plan.current_node or plan.spec.node
        return timed(plan.spec.host, plan.spec.vmid, node, action, lambda: step(plan, node))

    return in_parallel(plans, one)


def create_vms(
    prox: Proxmox, cluster: Cluster, *, force: bool = False, dry_run: bool = False, progress: Progress = quiet
) -> VmRun:
    plans = check_before_create(prox, cluster, force=force)
    run = VmRun(plans)
    if dry_run:
        return run

    def build(plan: VmPlan, node: str) -> str:
        spec = plan.spec
        if plan.action == "unchanged":
            return "unchanged"
        if plan.action == "recreate":
            ensure_ours(prox, node, spec.vmid, spec.cluster, spec.host)
            if plan.status == "running":
                progress(spec.host, "stopping (recreate)")
                prox.vms.hard_stop(node, spec.vmid, spec.host)
            progress(spec.host, "destroying (recreate)")
            prox.vms.destroy(node, spec.vmid, spec.host)
        progress(spec.host, "creating")
        prox.vms.create(spec.node, spec.params, spec.host)
        return "recreated" if plan.action == "recreate" else "created"

    run.results = _each(plans, "create", build)
    return run


def start_vms(prox: Proxmox, cluster: Cluster, *, dry_run: bool = False, progress: Progress = quiet) -> VmRun:
    ours, absent = existing_ours(prox, cluster)
    if absent:
        raise UserInputError(
            f"{len(absent)} VM(s) do not exist yet: {', '.join(p.spec.host for p in absent)}",
            f"run 'proxshift vms create {cluster.name}' first",
        )
    run = VmRun(ours, intent="start")
    if dry_run:
        return run

    def start(plan: VmPlan, node: str) -> str:
        if plan.status == "running":
            return "already running"
        progress(plan.spec.host, "starting")
        prox.vms.start(node, plan.spec.vmid, plan.spec.host)
        return "running"

    run.results = _each(ours, "start", start)
    return run


def stop_vms(
    prox: Proxmox,
    cluster: Cluster,
    *,
    force: bool = False,
    timeout: int = 120,
    dry_run: bool = False,
    progress: Progress = quiet,
) -> VmRun:
    ours, _ = existing_ours(prox, cluster)
    run = VmRun(ours, intent="stop")
    if dry_run:
        return run

    def stop(plan: VmPlan, node: str) -> str:
        if plan.status != "running":
            return "already stopped"
        progress(plan.spec.host, "shutting down")
        return prox.vms.shutdown(node, plan.spec.vmid, plan.spec.host, timeout, force)

    run.results = _each(ours, "stop", stop)
    return run


def deprovision_vms(
    prox: Proxmox,
    cluster: Cluster,
    install_dir: InstallDir,
    *,
    keep_iso: bool = False,
    dry_run: bool = False,
    progress: Progress = quiet,
) -> VmRun:
    ours, _ = existing_ours(prox, cluster)
    run = VmRun(ours, intent="destroy")
    if dry_run:
        if not keep_iso:
            run.notes = [
                f"remove ISO {u.get('volid')} on {u.get('node')} (uploaded by proxshift)"
                for u in read_uploads(install_dir)
            ]
        return run

    def remove(plan: VmPlan, node: str) -> str:
        spec = plan.spec
        ensure_ours(prox, node, spec.vmid, spec.cluster, spec.host)
        if plan.status == "running":
            progress(spec.host, "stopping")
            prox.vms.hard_stop(node, spec.vmid, spec.host)
        progress(spec.host, "destroying")
        prox.vms.destroy(node, spec.vmid, spec.host)
        return "destroyed"

    run.results = _each(ours, "destroy", remove)
    if not keep_iso and not run.failed:
        run.results += remove_uploaded_isos(prox, install_dir)
    return run


def vm_status(prox: Proxmox, cluster: Cluster) -> list[dict[str, Any]]:
    """Per VM: exists, ours, power state, drift; for ours also uptime, CPU and memory use."""
    rows = []
    for plan in plan_vms(prox, specs_for(cluster)):
        spec = plan.spec
        row: dict[str, Any] = {
            "host": spec.host,
            "vmid": spec.vmid,
            "node": plan.current_node or spec.node,
            "exists": plan.action != "create",
            "ours": plan.action in ("unchanged", "drift"),
            "status": plan.status or "absent",
            "drift": [str(d) for d in plan.drift],
            "note": plan.reason if plan.action == "refuse" else "",
        }
        if row["ours"]:
            current = prox.vms.status(row["node"], spec.vmid)
            row.update(
                uptime=int(current.get("uptime") or 0),
                cpu=float(current.get("cpu") or 0),
                mem=int(current.get("mem") or 0),
                maxmem=int(current.get("maxmem") or 0),
            )
        rows.append(row)
    return rows
