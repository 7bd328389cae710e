"""`proxshift nodes add <cluster> [HOST...]`: day-2 workers from the inventory, under the cluster's lock.

plan (engine/nodes_plan.py) -> nodes-config.yaml (manifests/nodes_config.py) -> `oc adm node-image
create` (clients/node_image.py) -> the ISO to each new host's ISO storage, recorded in the uploads
ledger -> the VMs, created and started as `vms create` / `start` do -> the join, CSRs approved by
the rules of engine/csr_rules.py (engine/nodes_join.py) -> the CD ejected from the hosts that are
Ready -> add-nodes/<UTC>/result.json. A second run finds every host a Node and adds nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from proxshift.config.pve_keys import INSTALL_ISO_SLOT
from proxshift.engine.connections import Notify, cluster_kubeconfig, ignore
from proxshift.engine.csr_rules import Joining
from proxshift.engine.nodes_join import SERVING_GRACE, HostWatch, JoinResult, JoinWatcher
from proxshift.engine.nodes_plan import AddNodesPlan, plan_add_nodes, require_oc
from proxshift.engine.vm_run import Progress, VmRun, quiet
from proxshift.errors import OperationError, ProxshiftError, file_error

if TYPE_CHECKING:
    from proxshift.clients.kube import Kube
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.config.inventory import Cluster
    from proxshift.config.project import Project

EJECTED = "none,media=cdrom"


@dataclass
class AddNodesOutcome:
    plan: AddNodesPlan
    dry_run: bool
    join: JoinResult | None = None
    ejected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.join is not None and self.join.timed_out


def add_nodes(
    project: Project,
    name: str,
    named: Sequence[str] = (),
    *,
    dry_run: bool = False,
    timeout: float = 90 * 60,
    poll: float = 5.0,
    serving_grace: float = SERVING_GRACE,
    report: Callable[[str], None] = ignore,
    notify: Notify = ignore,
    progress: Progress = quiet,
) -> AddNodesOutcome:
    """Plan (and, unless a dry run, do) the addition of the hosts; the outcome says what happened."""
    from proxshift.engine.connections import proxmox_for
    from proxshift.engine.lock import cluster_lock

    connection: list[Proxmox] = []

    def proxmox() -> Proxmox:
        if not connection:
            connection.append(proxmox_for(project, name, notify)[0])
        return connection[0]

    if dry_run:
        return AddNodesOutcome(_plan(project, name, named, proxmox, report, notify), dry_run=True)
    with cluster_lock(project.paths.install_dir(name), f"proxshift nodes add {name}"):
        plan = _plan(project, name, named, proxmox, report, notify)
        if not plan.hosts:
            return AddNodesOutcome(plan, dry_run=False)
        outcome = AddNodesOutcome(plan, dry_run=False)
        try:
            _execute(project, outcome, proxmox(), timeout, poll, serving_grace, report, notify, progress)
        except ProxshiftError as exc:
            with contextlib.suppress(ProxshiftError):  # the same full disk, most likely: report the failure itself
                _record(outcome, f"failed: {exc.message}")
            raise
        _record(outcome, "timed out" if outcome.failed else "done")
        return outcome


def _plan(
    project: Project,
    name: str,
    named: Sequence[str],
    proxmox: Callable[[], Proxmox],
    report: Callable[[str], None],
    notify: Notify,
) -> AddNodesPlan:
    plan = plan_add_nodes(project, name, named, proxmox, notify)
    for host in plan.already:
        report(f"{host} is a Node of {name} already: left alone")
    return plan


def _execute(
    project: Project,
    outcome: AddNodesOutcome,
    prox: Proxmox,
    timeout: float,
    poll: float,
    grace: float,
    report: Callable[[str], None],
    notify: Notify,
    progress: Progress,
) -> None:
    from proxshift.clients.node_image import create_node_image
    from proxshift.engine.connections import vault_for
    from proxshift.engine.iso_upload import upload_iso
    from proxshift.files import MAKE_WRITABLE, private_dir, write_or_fail
    from proxshift.manifests.nodes_config import render_nodes_config

    plan = outcome.plan
    oc = require_oc(plan)
    assert plan.view is not None and plan.run_dir is not None and plan.kube is not None  # noqa: S101 - planned
    run, paths = plan.run_dir, project.paths
    pull_secret = vault_for(project, notify).read_install_secrets(project.settings).pull_secret
    kubeconfig, _ = cluster_kubeconfig(project, plan.name, notify)
    hosts = [h.name for h in plan.hosts]
    text = render_nodes_config(plan.cluster, project.settings, hosts, paths.root / "templates")
    try:
        private_dir(run.path)
    except OSError as exc:
        raise file_error(exc, f"make {run.path}", f"{MAKE_WRITABLE}, then run again") from None
    write_or_fail(run.nodes_config, text, "the nodes config", f"{MAKE_WRITABLE}, then run again")
    report(f"wrote {paths.shown(run.nodes_config)}; running oc adm node-image create ({oc.version}, {oc.source})")
    create_node_image(oc.path, run, kubeconfig, pull_secret, report=oc.has_report, on_line=lambda x: report(f"  {x}"))
    for target in upload_iso(prox, plan.view, run.iso, paths.install_dir(plan.name), replace=True):
        report(f"{target.volid} on {target.node}: {'replaced' if target.action == 'replace' else 'uploaded'}")
    started = _create_and_start(prox, plan.view, report, progress)
    watches = [
        HostWatch(joining, project.settings.add_nodes_agent_url.format(ip=joining.ip, host=joining.name))
        for joining in started
    ]
    report(f"waiting for {', '.join(hosts)} to join (up to {timeout / 60:.0f} min)")
    outcome.join = JoinWatcher(
        plan.kube, watches, agent_token(plan.kube), report, timeout=timeout, poll=poll, serving_grace=grace
    ).run()
    outcome.ejected = eject(prox, plan.view, outcome.join.ready, notify, progress)
    # The `labels` phase of the post-install work (issue 8) is not in engine/phases yet; when it lands,
    # its labels go on the Nodes in outcome.join.ready here, under the same lock.
    outcome.notes.append("labels: no labels phase yet; the new Nodes carry the labels their kubelet gave them")


def _create_and_start(prox: Proxmox, view: Cluster, report: Callable[[str], None], progress: Progress) -> list[Joining]:
    """The VMs as `vms create` and `start` make them; each host's start time (a CSR older than it is
    refused): just before the start call, or for a VM already running, its uptime ago."""
    from proxshift.engine.vm_lifecycle import create_vms, start_vms

    _fail_on(create_vms(prox, view, progress=progress), "creating")
    before = datetime.now(UTC)
    run = _fail_on(start_vms(prox, view, progress=progress), "starting")
    joining = []
    for result in run.results:
        node = view.node(result.host)
        started = before
        if result.detail == "already running":
            uptime = int(prox.vms.status(result.node, result.vmid).get("uptime") or 0)
            started = datetime.now(UTC) - timedelta(seconds=uptime + 1)
            report(
                f"  {result.host}: already running since {started:%H:%M:%S} UTC; left running (if it booted an "
                "older add-nodes ISO that expired, stop it and run again)"
            )
        joining.append(Joining(node.name, node.fqdn, str(node.ip), started))
    return joining


def _fail_on(run: VmRun, doing: str) -> VmRun:
    if run.failed:
        raise OperationError(
            f"{doing} the VMs failed: " + "; ".join(f"{r.host}: {r.detail}" for r in run.results if not r.ok),
            "fix it, then run 'proxshift nodes add' again: it carries on with the hosts that are not Nodes",
        )
    return run


def agent_token(kube: Kube) -> str | None:
    """The watcher token of the hosts' assisted-service: Secret openshift-config/agent-auth-token."""
    import base64
    import binascii

    secret = kube.get("v1", "Secret", "agent-auth-token", "openshift-config") or {}
    value = (secret.get("data") or {}).get("agentAuthToken")
    try:
        return base64.b64decode(value).decode() if value else None
    except (binascii.Error, ValueError):
        return None


def eject(prox: Proxmox, view: Cluster, hosts: list[str], notify: Notify, progress: Progress) -> list[str]:
    """Empty the CD drive of these hosts' VMs: the ownership marker is read again, and the change is made
    only to the config that was read (PVE's digest). A failure is a warning: the disk comes first in
    their boot order anyway."""
    from proxshift.engine.vm_plan import existing_ours
    from proxshift.engine.vmspec import owner_of

    ejected = []
    for plan in existing_ours(prox, view)[0]:
        spec = plan.spec
        if spec.host not in hosts:
            continue
        node = plan.current_node or spec.node
        try:
            config = prox.vms.config(node, spec.vmid)
            if owner_of(config) != (spec.cluster, spec.host):
                raise OperationError(f"VM {spec.vmid} is no longer proxshift's VM for {spec.host}", "left alone")
            prox.vms.update_config(node, spec.vmid, str(config.get("digest", "")), {INSTALL_ISO_SLOT: EJECTED})
        except ProxshiftError as exc:
            notify(f"{spec.host}: the add-nodes ISO is still in its CD drive ({exc.message})")
            continue
        progress(spec.host, "CD ejected")
        ejected.append(spec.host)
    return ejected


def _record(outcome: AddNodesOutcome, result: str) -> None:
    """add-nodes/<UTC>/result.json: what this run did and left, for the audit of who approved what."""
    from proxshift.files import MAKE_WRITABLE, write_or_fail

    plan, join = outcome.plan, outcome.join
    if plan.run_dir is None or not plan.run_dir.path.is_dir():
        return
    data = {
        "cluster": plan.name,
        "version": plan.version,
        "outcome": result,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "hosts": [
            {"name": h.joining.name, "ip": h.joining.ip, "vm_started": h.joining.started.isoformat(), "state": h.state}
            for h in (join.hosts if join else [])
        ]
        or [{"name": n.name, "state": "not started"} for n in plan.hosts],
        "approved": [{"csr": c, "host": h, "kind": k} for c, h, k in (join.approved if join else [])],
        "left_pending": [{"csr": v.csr, "reason": v.reason} for v in (join.left_pending if join else [])],
        "ejected": outcome.ejected,
    }
    hint = f"{MAKE_WRITABLE}; the run itself is over: what it did is in the output above and in the cluster"
    write_or_fail(plan.run_dir.result, json.dumps(data, indent=2) + "\n", "the record of the run", hint)
