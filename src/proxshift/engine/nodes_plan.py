"""`nodes add`, before anything changes: the cluster as it runs, which hosts to add, their VMs, ISO and oc.

Everything here reads: the cluster's API (ClusterVersion, Nodes), Proxmox (the VM plan, the ISO
storage), Vault (the cluster's kubeconfig). `--dry-run` prints this plan; a run re-plans under the
cluster's lock and executes it (engine/nodes_add.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from proxshift.config.pve_keys import INSTALL_ISO_SLOT, is_data_disk_slot
from proxshift.engine.connections import Notify, cluster_kubeconfig
from proxshift.engine.vmspec import boot_devices
from proxshift.errors import OperationError, ProxshiftError, UserInputError

if TYPE_CHECKING:
    from proxshift.clients.installer import OcBinary
    from proxshift.clients.kube import Kube
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.config.install_dir import AddNodesDir, InstallDir
    from proxshift.config.inventory import Cluster, Node
    from proxshift.config.project import Project
    from proxshift.engine.vmspec import VmPlan
    from proxshift.secret import Secret

MINIMUM = (4, 17)  # `oc adm node-image` and the agent add-nodes flow
API_TIMEOUT = 15.0


def iso_name(cluster: str) -> str:
    """The add-nodes ISO's name on Proxmox storage: one per cluster, replaced by each run."""
    return f"{cluster}-add-nodes.x86_64.iso"


# -- the cluster as it runs ---------------------------------------------------------------------------


def connect(kubeconfig: Secret, name: str) -> Kube:
    from proxshift.engine.audited_kube import AuditedKube  # its patches and CSR approvals go to the audit trail

    return AuditedKube(
        kubeconfig.reveal(),
        f"cluster {name}",
        timeout=API_TIMEOUT,
        hint="the kubeconfig must be the cluster's admin one (proxshift credentials " + name + ")",
    )


def running_version(kube: Kube, name: str) -> str:
    """The cluster's version; exit 2 unless it is 4.17 or later and not Progressing (an upgrade)."""
    from proxshift.clients.installer import release
    from proxshift.clients.kube import condition_is, conditions

    version = kube.get("config.openshift.io/v1", "ClusterVersion", "version")
    if version is None:
        raise UserInputError(f"{name} has no ClusterVersion 'version'", "is the kubeconfig an OpenShift cluster's?")
    desired = str(((version.get("status") or {}).get("desired") or {}).get("version") or "")
    if (release(desired) or (0, 0)) < MINIMUM:
        raise UserInputError(
            f"{name} runs OpenShift {desired or '(version unknown)'}; adding nodes needs 4.17 or later",
            "upgrade the cluster first (oc adm node-image came with 4.17)",
        )
    if condition_is(version, "Progressing"):
        message = conditions(version)["Progressing"].get("message") or "an update is under way"
        raise UserInputError(
            f"{name} is changing (ClusterVersion Progressing: {message})",
            "wait until 'oc get clusterversion' shows it settled, then run again",
        )
    return desired


def node_addresses(kube: Kube) -> dict[str, set[str]]:
    """Each Node's name and its InternalIP addresses."""
    found = {}
    for node in kube.list("v1", "Node"):
        addresses = (node.get("status") or {}).get("addresses") or []
        found[str(node["metadata"]["name"])] = {
            str(a.get("address")) for a in addresses if a.get("type") == "InternalIP" and a.get("address")
        }
    return found


# -- which hosts ---------------------------------------------------------------------------------------


def select_hosts(cluster: Cluster, nodes: Mapping[str, object], named: Sequence[str]) -> tuple[list[Node], list[str]]:
    """(the hosts to add, those named that are Nodes already): the inventory hosts that are not Nodes
    (by name or FQDN), or the named ones that are not. A control-plane host is exit 2."""
    from proxshift.config.model_errors import closest

    known = {n.name: n for n in cluster.nodes}
    unknown = [h for h in named if h not in known]
    if unknown:
        guess = closest(unknown[0], known)
        raise UserInputError(
            f"{', '.join(unknown)}: not a host of {cluster.name} in the inventory",
            f"did you mean '{guess}'?" if guess else "add the host to the cluster's hosts first",
        )
    candidates = [known[h] for h in dict.fromkeys(named)] if named else list(cluster.nodes)
    joined = [n for n in candidates if n.name in nodes or n.fqdn in nodes]
    chosen = [n for n in candidates if n not in joined]
    joined = joined if named else []  # only a host asked for by name is worth a line
    masters = [n.name for n in chosen if n.role != "worker"]
    if masters:
        raise UserInputError(
            f"{', '.join(masters)}: control-plane host(s) that are not Nodes of {cluster.name}; "
            "nodes add adds workers only",
            "the agent add-nodes flow joins workers; replacing a control-plane node is a recovery (docs/day2.md)",
        )
    return chosen, [n.name for n in joined]


def add_nodes_view(cluster: Cluster, hosts: Sequence[Node]) -> Cluster:
    """The cluster as `vms create` should see it for this run: only these hosts, each with the add-nodes
    ISO (on the storage of its iso_image) in its CD drive, and a boot order of disk first, then CD."""
    volumes, problems = [], []
    for node in hosts:
        devices = boot_devices(node.spec.boot)
        before_cd = devices[: devices.index(INSTALL_ISO_SLOT)] if INSTALL_ISO_SLOT in devices else []
        if not any(is_data_disk_slot(d) and d != INSTALL_ISO_SLOT for d in before_cd):
            problems.append(
                f"{node.name}: boot order '{node.spec.boot}' must list a disk before {INSTALL_ISO_SLOT} "
                "(e.g. order=scsi0;ide2), so that the installed host boots its disk and not the ISO again"
            )
        if not node.spec.iso_image:
            problems.append(f"{node.name}: no iso_image: its storage is where the add-nodes ISO goes")
            continue
        storage = node.spec.iso_image.split(":", 1)[0]
        spec = node.spec.model_copy(update={"iso_image": f"{storage}:iso/{iso_name(cluster.name)}"})
        volumes.append(replace(node, spec=spec))
    if problems:
        raise UserInputError(
            "cannot add these hosts as the inventory has them:\n  " + "\n  ".join(problems), "fix the inventory"
        )
    return replace(cluster, nodes=tuple(volumes))


# -- the plan ------------------------------------------------------------------------------------------


@dataclass
class IsoPlan:
    node: str
    storage: str
    volid: str
    action: str  # upload, replace (proxshift's own, from an earlier run)


@dataclass
class AddNodesPlan:
    """What a run will do, from read-only lookups."""

    cluster: Cluster
    version: str
    api: str
    kubeconfig_source: str
    hosts: list[Node]
    already: list[str]
    nodes: dict[str, set[str]]
    view: Cluster | None = None
    vms: list[VmPlan] = field(default_factory=list)
    isos: list[IsoPlan] = field(default_factory=list)
    oc: OcBinary | None = None
    oc_problem: ProxshiftError | None = None
    run_dir: AddNodesDir | None = None
    kube: Kube | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.cluster.name


def plan_isos(prox: Proxmox, view: Cluster, install_dir: InstallDir) -> list[IsoPlan]:
    """Once per shared storage (per node for a local one); an ISO of that name proxshift did not upload
    (the uploads ledger) is exit 2 before anything changes."""
    from proxshift.engine.iso_upload import read_uploads
    from proxshift.engine.vm_plan import specs_for

    ours = {(u.get("node"), u.get("volid")) for u in read_uploads(install_dir)}
    plans: list[IsoPlan] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs_for(view):
        volid = spec.iso_volume or ""
        storage = volid.split(":", 1)[0]
        shared = bool(prox.storage.info(spec.node, storage).get("shared"))
        key = (storage, "*") if shared else (storage, spec.node)
        if key in seen:
            continue
        seen.add(key)
        present = volid in prox.storage.iso_content(spec.node, storage)
        mine = any(v == volid and (shared or n == spec.node) for n, v in ours)
        if present and not mine:
            raise UserInputError(
                f"{volid} on {spec.node} is there already and proxshift did not upload it",
                "remove or rename it; nodes add uploads its own ISO under that name",
            )
        plans.append(IsoPlan(spec.node, storage, volid, "replace" if present else "upload"))
    return plans


def refuse_drift(prox: Proxmox, view: Cluster) -> None:
    """A VM of a new host that exists but differs (made by `vms create`, with the install's ISO in its
    CD drive, say) is exit 2: nodes add does not recreate VMs."""
    from proxshift.engine.vm_plan import plan_vms, specs_for

    drifted = [p for p in plan_vms(prox, specs_for(view)) if p.action == "drift"]
    if drifted:
        lines = [f"{p.spec.host} (vmid {p.spec.vmid}): " + "; ".join(str(d) for d in p.drift) for p in drifted]
        raise UserInputError(
            "these hosts' VMs exist but are not what nodes add makes:\n  " + "\n  ".join(lines),
            "nodes add does not recreate a VM: if that host never joined, remove its VM in Proxmox "
            "(check it first), then run nodes add again",
        )


def plan_add_nodes(
    project: Project, name: str, named: Sequence[str], proxmox: Callable[[], Proxmox], notify: Notify
) -> AddNodesPlan:
    """Read the cluster, pick the hosts, plan their VMs, ISO and oc (Proxmox is logged in to only when
    there are hosts to add)."""
    from proxshift.clients.installer import find_oc
    from proxshift.engine.vm_plan import check_before_create

    cluster = project.cluster(name)
    kubeconfig, source = cluster_kubeconfig(project, name, notify)
    kube = connect(kubeconfig, name)
    version = running_version(kube, name)
    nodes = node_addresses(kube)
    hosts, already = select_hosts(cluster, nodes, named)
    plan = AddNodesPlan(cluster, version, kube.server, source, hosts, already, nodes, kube=kube)
    if not hosts:
        return plan
    prox = proxmox()
    plan.view = add_nodes_view(cluster, hosts)
    install_dir = project.paths.install_dir(name)
    refuse_drift(prox, plan.view)
    plan.vms = check_before_create(prox, plan.view, force=False, iso_upload=True, iso_present=False)
    plan.isos = plan_isos(prox, plan.view, install_dir)
    try:
        plan.oc = find_oc([version, cluster.vars.ocp_version])
    except UserInputError as exc:
        plan.oc_problem = exc
    plan.run_dir = install_dir.add_nodes_run()
    return plan


def require_oc(plan: AddNodesPlan) -> OcBinary:
    if plan.oc is None:
        raise plan.oc_problem or OperationError("no oc found", "see 'proxshift installer fetch --help'")
    return plan.oc
