"""`adopt`: mark the VMs the predecessor built as proxshift's, bring over its credentials, record what is done.

Plan, then apply: `plan_adoption` only reads (Proxmox, Vault, the cluster's API, the ACM hub);
`apply_adoption` holds the cluster's lock, re-checks each VM right before writing its marker (the
write carries the config digest that was checked, so Proxmox refuses it if anything changed in
between), stores the credentials when Vault has none, and records the observably complete phases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from proxshift.clients.proxmox.cluster import Guest
from proxshift.clients.proxmox.options import split_options
from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, proxmox_for, vault_for
from proxshift.engine.vmspec import NET_KEY, Drift, VmSpec, drift, owner_of, vm_spec
from proxshift.errors import OperationError, ProxshiftError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.config.inventory import Cluster, Node
    from proxshift.secret import Secret

Verdict = Literal["adoptable", "ours", "missing", "mismatch", "other-cluster"]
VERDICTS: dict[str, str] = {
    "adoptable": "adoptable",
    "ours": "already ours",
    "missing": "missing",
    "mismatch": "mismatch",
    "other-cluster": "another cluster's",
}
# Phases adopt can observe as complete; what comes before them (manifests, ISO, upload) it cannot.
VM_PHASES = ("vms", "start")
API_PHASES = ("wait", "credentials")


@dataclass
class VmCheck:
    """One inventory host's VM: what it is, and (after apply) what was done to it."""

    spec: VmSpec
    verdict: Verdict
    reason: str = ""
    node: str | None = None  # where the VM is; None when it is missing
    status: str | None = None
    drift: list[Drift] = field(default_factory=list)
    outcome: str | None = None  # after apply: "adopted", or why it was left alone
    failed: bool = False
    mac: str | None = None  # the inventory's MAC for the host, checked again right before the write

    @property
    def label(self) -> str:
        return f"{self.spec.host} (vmid {self.spec.vmid})"

    @property
    def refused(self) -> bool:
        """Never touched, and the command exits 1 naming it."""
        return self.verdict in ("mismatch", "other-cluster") or self.failed

    def ours_after(self, assume_adopted: bool) -> bool:
        return self.verdict == "ours" or (self.verdict == "adoptable" and (assume_adopted or self.outcome == "adopted"))


def _macs(config: dict[str, Any]) -> list[str]:
    """The MAC of each NIC (`net0: virtio=BC:24:...,bridge=vmbr0`), upper-case."""
    return [
        split_options(str(config[key]))[0].partition("=")[2].upper()
        for key in sorted(k for k in config if NET_KEY.fullmatch(k))
    ]


def check_vm(spec: VmSpec, mac: str | None, resource: Guest | None, config: dict[str, Any] | None) -> VmCheck:
    """Is the VM at the host's vmid this host's VM? Pure: the verdict from what Proxmox said."""
    check = _verdict(spec, mac, resource, config)
    check.mac = mac
    return check


def _verdict(  # noqa: PLR0911 - the decision table for one VM: each return is one row of it
    spec: VmSpec, mac: str | None, resource: Guest | None, config: dict[str, Any] | None
) -> VmCheck:
    if resource is None:
        return VmCheck(spec, "missing", f"no guest has vmid {spec.vmid}")
    node, status = resource.node, resource.status
    if resource.kind != "qemu" or config is None:
        return VmCheck(spec, "mismatch", f"vmid {spec.vmid} is container '{resource.name}'", node, status)
    owner = owner_of(config)
    if owner == (spec.cluster, spec.host):
        return VmCheck(spec, "ours", "marked as this host's VM", node, status, _drift(spec, resource, config))
    if owner is not None and owner[0] != spec.cluster:
        return VmCheck(spec, "other-cluster", f"marked as host {owner[1]} of cluster {owner[0]}", node, status)
    if owner is not None:
        return VmCheck(spec, "mismatch", f"marked as proxshift's VM for host {owner[1]}", node, status)
    name, fqdn = str(config.get("name", "")), str(spec.params["name"])
    if name not in (fqdn, spec.host):
        return VmCheck(spec, "mismatch", f"its name is '{name}', not {fqdn} or {spec.host}", node, status)
    macs = _macs(config)
    if not mac:
        return VmCheck(spec, "mismatch", "the inventory names no MAC for this host to check against", node, status)
    if mac.upper() not in macs:
        return VmCheck(
            spec, "mismatch", f"no NIC carries {mac.upper()} (it has {', '.join(macs) or 'none'})", node, status
        )
    return VmCheck(spec, "adoptable", "name and MAC match", node, status, _drift(spec, resource, config))


def _drift(spec: VmSpec, resource: Guest, config: dict[str, Any]) -> list[Drift]:
    found = drift(spec, config)
    if resource.node != spec.node:
        found.insert(0, Drift("node", spec.node, resource.node))
    return found


def marker_params(spec: VmSpec, config: dict[str, Any]) -> dict[str, str]:
    """The tags and description line `vms create` writes, added to what the VM has; nothing of it is lost."""
    have = [t for t in re.split(r"[;,\s]+", str(config.get("tags") or "")) if t]
    tags = have + [t for t in str(spec.params["tags"]).split(";") if t not in have]
    existing = str(config.get("description") or "")
    separator = "" if not existing or existing.endswith("\n") else "\n"
    return {"tags": ";".join(tags), "description": existing + separator + str(spec.params["description"])}


# -- credentials and what the cluster's API and the hub say --------------------------------------------


@dataclass
class CredentialsPlan:
    """Where the cluster's credentials come from: kept in Vault, stored from the install dir, or nowhere."""

    source: Literal["vault", "install-dir", "none"]
    location: str  # <credentials_path>/<cluster>
    auth: str  # ocp_install/<cluster>/auth, as users read it
    detail: str  # why, for "none"
    kubeconfig: Secret | None = None  # the one the API check uses: what Vault holds (or will hold)
    api_url: str | None = None  # the local kubeconfig's server, written as `api`
    problem: str | None = None  # credentials to bring over, and Vault could not take them: exit 1

    def describe(self, dry_run: bool) -> str:
        if self.source == "vault":
            return f"kept those Vault already holds at {self.location} (source: Vault)"
        if self.source == "install-dir":
            verb = "would store" if dry_run else "stored"
            return f"{verb} in Vault at {self.location} (source: {self.auth}/)"
        return f"not brought over: {self.detail}" if self.problem else f"none: {self.detail}"


def plan_credentials(project: Project, cluster_name: str, notify: Notify = ignore) -> CredentialsPlan:
    from proxshift.clients.vault import KvPath
    from proxshift.secret import Secret

    install_dir = project.paths.install_dir(cluster_name)
    base = KvPath.parse(project.settings.credentials_path)
    location, auth = str(base.child(cluster_name)), project.paths.shown(install_dir.auth)
    local = install_dir.kubeconfig.is_file() and install_dir.kubeadmin_password.is_file()
    text = install_dir.kubeconfig.read_text() if local else ""
    kubeconfig = Secret(text, str(install_dir.kubeconfig)) if local else None
    try:
        stored = vault_for(project, notify).find_credentials(base, cluster_name)
    except ProxshiftError as exc:
        detail = f"Vault: {exc.message}"
        return CredentialsPlan("none", location, auth, detail, kubeconfig, problem=detail if local else None)
    if stored is not None:
        return CredentialsPlan("vault", location, auth, "", stored["kubeconfig"])
    if not local:
        detail = f"Vault has none at {location}, and {auth}/ lacks kubeconfig or kubeadmin-password"
        return CredentialsPlan("none", location, auth, detail)
    server = _server(text)
    if server is None:
        detail = f"the kubeconfig in {auth}/ names no server"
        return CredentialsPlan("none", location, auth, detail, problem=detail)
    return CredentialsPlan("install-dir", location, auth, "", kubeconfig, server)


def _server(kubeconfig: str) -> str | None:
    import yaml

    try:
        data = yaml.safe_load(kubeconfig)
        return str(data["clusters"][0]["cluster"]["server"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def installed(kubeconfig: Secret) -> tuple[bool, str]:
    """(the API answers with this kubeconfig and its ClusterVersion is Available, what was seen)."""
    from proxshift.clients.install_watch.cluster import KUBE_TIMEOUT, cluster_version
    from proxshift.clients.kube import Kube, condition_is

    try:
        kube = Kube(kubeconfig.reveal(), "the cluster's API", timeout=KUBE_TIMEOUT)
        version = cluster_version(kube)
    except (ProxshiftError, ValueError) as exc:  # ValueError: the client's own complaint about the server URL
        return False, exc.message if isinstance(exc, ProxshiftError) else f"the kubeconfig cannot be used ({exc})"
    if version is None:
        return False, f"the API at {kube.server} does not answer"
    if not condition_is(version, "Available"):
        return False, f"the API at {kube.server} answers, but the install is not complete"
    return True, f"the API at {kube.server} answers with these credentials; the install is complete"


def acm_joined(project: Project, cluster_name: str, notify: Notify = ignore) -> tuple[bool, str]:
    """(the hub has the ManagedCluster joined, what was seen)."""
    from proxshift.engine.acm_flow import acm_context

    try:
        context = acm_context(project, cluster_name, "manual", notify=notify)
        if context.skipped or context.hub is None:
            return False, f"not checked: {context.skipped}"
        from proxshift.clients.acm import state

        found = state(context.hub, cluster_name)
    except ProxshiftError as exc:
        return False, f"not checked: {exc.message}"
    return found in ("joined", "available"), f"ManagedCluster {cluster_name} on hub {context.hub_name}: {found}"


# -- plan and apply ---------------------------------------------------------------------------------------


@dataclass
class AdoptPlan:
    cluster: str
    vms: list[VmCheck]
    credentials: CredentialsPlan
    observed: dict[str, tuple[bool, str]]  # "wait" / "acm": (complete, what was seen)
    done: set[str]  # phases state.json already records as done with the current inputs
    prox: Proxmox

    @property
    def to_mark(self) -> list[VmCheck]:
        return [v for v in self.vms if v.verdict == "adoptable"]

    def phases(self, assume_adopted: bool = True) -> list[str]:
        """The observably complete phases, in the flow's order."""
        found: list[str] = []
        if all(v.ours_after(assume_adopted) and not v.drift for v in self.vms):
            found.append("vms")
            if all(v.status == "running" for v in self.vms):
                found.append("start")
        if self.observed["wait"][0]:
            found.append("wait")
            if self.credentials.source in ("vault", "install-dir"):
                found.append("credentials")
        if self.observed["acm"][0]:
            found.append("acm")
        return found

    def to_record(self, assume_adopted: bool = True) -> list[str]:
        return [p for p in self.phases(assume_adopted) if p not in self.done]

    @property
    def nothing_to_do(self) -> bool:
        return not self.to_mark and self.credentials.source != "install-dir" and not self.to_record()

    def problems(self) -> list[str]:
        """What was (or would be) left undone: each one makes the command exit 1."""
        found = [f"{v.label}: {v.outcome or v.reason}" for v in self.vms if v.refused]
        if self.credentials.problem:
            found.append(f"credentials not brought over: {self.credentials.problem}")
        return found


def _inputs(project: Project, cluster_name: str) -> Callable[[str], str]:
    """Each phase's current inputs digest, computed by the phase itself, as `provision` does."""
    from proxshift.engine.phases.base import Options, PhaseContext
    from proxshift.engine.phases.flow import PHASES

    context = PhaseContext(project, cluster_name, Options(), lambda event: None)
    by_name = {phase.name: phase for phase in PHASES}
    return lambda name: by_name[name].inputs(context)


def survey(prox: Proxmox, cluster: Cluster) -> list[VmCheck]:
    """One listing of the cluster's guests, then the config of each VM on an inventory vmid."""
    resources = prox.cluster.guests()
    return [_check_node(prox, node, cluster, resources.get(node.spec.vmid)) for node in cluster.nodes]


def _check_node(prox: Proxmox, node: Node, cluster: Cluster, resource: Guest | None) -> VmCheck:
    spec = vm_spec(node, cluster)
    config = prox.vms.config(resource.node, spec.vmid) if resource and resource.kind == "qemu" else None
    return check_vm(spec, node.mac, resource, config)


def plan_adoption(project: Project, cluster_name: str, notify: Notify = ignore) -> AdoptPlan:
    """Everything adopt would do, from read-only lookups; nothing is changed anywhere."""
    from proxshift.engine.state import State

    prox, cluster = proxmox_for(project, cluster_name, notify)
    vms = survey(prox, cluster)
    credentials = plan_credentials(project, cluster_name, notify)
    wait = (
        installed(credentials.kubeconfig) if credentials.kubeconfig else (False, "no credentials to ask the API with")
    )
    observed = {"wait": wait, "acm": acm_joined(project, cluster_name, notify)}
    state = State(project.paths.install_dir(cluster_name).state_file)
    inputs = _inputs(project, cluster_name)
    done = {p for p in (*VM_PHASES, *API_PHASES, "acm") if state.done(p, inputs(p))}
    return AdoptPlan(cluster_name, vms, credentials, observed, done, prox)


@dataclass
class AdoptResult:
    plan: AdoptPlan
    recorded: list[str]  # the phases written to state.json

    @property
    def adopted(self) -> list[VmCheck]:
        return [v for v in self.plan.vms if v.outcome == "adopted"]

    @property
    def changed(self) -> bool:
        return bool(self.adopted or self.recorded) or self.plan.credentials.source == "install-dir"


def _mark(prox: Proxmox, check: VmCheck) -> None:
    """Re-read the config, re-check it, and write the marker with that config's digest."""
    spec = check.spec
    node = check.node or spec.node
    try:
        config = prox.vms.config(node, spec.vmid)
        again = check_vm(spec, check.mac, Guest(spec.vmid, "qemu", node, "", check.status or ""), config)
        if again.verdict != "adoptable":
            check.verdict, check.reason = again.verdict, f"changed since it was read: {again.reason}"
            check.outcome = "already ours" if again.verdict == "ours" else f"left alone: {check.reason}"
            return
        # PVE refuses the write if the config is no longer the one just checked (digest), so a rename
        # or a NIC change in between can never end up marked.
        prox.vms.update_config(node, spec.vmid, str(config.get("digest", "")), marker_params(spec, config))
    except OperationError as exc:
        check.failed, check.outcome = True, f"left alone: {exc.message}"
        return
    check.outcome = "adopted"


def _store_credentials(project: Project, plan: AdoptPlan, notify: Notify) -> CredentialsPlan:
    """What became of the credentials; Vault is asked again under the lock, and never overwritten."""
    from proxshift.engine.install import store_credentials

    credentials = plan.credentials
    if credentials.source != "install-dir":
        return credentials
    again = plan_credentials(project, plan.cluster, notify)
    if again.source != "install-dir" or again.api_url is None:
        return again
    try:
        store_credentials(project, plan.cluster, again.api_url, notify)
    except ProxshiftError as exc:
        again.source, again.detail, again.problem = "none", exc.message, exc.message
    return again


def apply_adoption(project: Project, plan: AdoptPlan, notify: Notify = ignore) -> AdoptResult:
    """Under the cluster's lock: the markers, the credentials, the state file."""
    from proxshift.engine.lock import cluster_lock
    from proxshift.engine.state import State

    install_dir = project.paths.install_dir(plan.cluster)
    with cluster_lock(install_dir, f"proxshift adopt {plan.cluster}"):
        for check in plan.to_mark:
            _mark(plan.prox, check)
        plan.credentials = _store_credentials(project, plan, notify)
        recorded = plan.to_record(assume_adopted=False)
        if recorded:
            state = State(install_dir.state_file)
            state.data["cluster"] = plan.cluster
            inputs = _inputs(project, plan.cluster)
            for phase in recorded:
                state.record(phase, inputs(phase), 0.0, by="adopt")
    return AdoptResult(plan, recorded)
