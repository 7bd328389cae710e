"""`proxshift health` (and the last phase of `provision`): is an installed cluster well?

The VMs (from Proxmox), the API (/readyz with the stored credentials, TLS verified), the API's serving
certificate, ClusterVersion, ClusterOperators, Nodes, and the ACM import: one row per problem (or one
ok row per part), each with a hint. A part that cannot be reached is a failed row, never a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.config.project import Project
from proxshift.engine.doctor import Check
from proxshift.errors import ProxshiftError

if TYPE_CHECKING:
    from proxshift.clients.kube import Kube
    from proxshift.clients.proxmox.client import Proxmox

CERTIFICATE_WARNING_DAYS = 30
# The cluster renews its own serving certificates when 15 of their 30 days are left: fewer than this
# means the renewal is not happening (a warning under 30 days would be there all the time).
ROTATED_CERTIFICATE_WARNING_DAYS = 7
API_TIMEOUT = 10.0  # each request: a cluster that does not answer is a failed row soon, not a long wait
Notify = Callable[[str], None]


@dataclass
class HealthReport:
    cluster: str
    checks: list[Check]

    @property
    def healthy(self) -> bool:
        return not any(c.status == "failed" for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """The --json form (docs/health.md)."""
        return {"cluster": self.cluster, "healthy": self.healthy, "checks": [asdict(c) for c in self.checks]}


def _ok(part: str, name: str, detail: str) -> Check:
    return Check(name, "ok", detail, "", part)


def _failed(part: str, name: str, detail: str, hint: str | None) -> Check:
    return Check(name, "failed", detail, hint or "", part)


def cluster_health(project: Project, cluster_name: str, notify: Notify, hub_file: Path | None = None) -> HealthReport:
    """`proxshift health`: every check, its reads of Vault recorded in the cluster's audit trail."""
    from proxshift.engine.audit import trail

    with trail(project.paths.install_dir(cluster_name)):
        return check_health(project, cluster_name, notify, hub_file=hub_file)


def check_health(
    project: Project,
    cluster_name: str,
    notify: Notify,
    *,
    proxmox: Callable[[], Proxmox] | None = None,
    kube: Callable[[], Kube] | None = None,
    hub_file: Path | None = None,
    now: Callable[[], float] = time.time,
) -> HealthReport:
    """Every check; `proxmox` and `kube` give the connections to use (default: made from the project),
    `hub_file` the hub's kubeconfig (default: PROXSHIFT_HUB_KUBECONFIG, else the hub's credentials in Vault)."""
    from proxshift.engine.connections import proxmox_for

    checks = _vms(project, cluster_name, proxmox or (lambda: proxmox_for(project, cluster_name, notify)[0]))
    checks += _cluster(kube or (lambda: _cluster_kube(project, cluster_name, notify)), now)
    checks += _acm(project, cluster_name, notify, hub_file)
    return HealthReport(cluster_name, checks)


def _cluster_kube(project: Project, cluster_name: str, notify: Notify) -> Kube:
    from proxshift.clients.kube import Kube
    from proxshift.clients.transport import POLL_RETRY
    from proxshift.engine.connections import cluster_kubeconfig

    kubeconfig, _ = cluster_kubeconfig(project, cluster_name, notify)
    return Kube(kubeconfig.reveal(), cluster_name, timeout=API_TIMEOUT, retry=POLL_RETRY)  # a poll's budget


# -- the VMs -----------------------------------------------------------------------------------------------


def _vms(project: Project, cluster_name: str, proxmox: Callable[[], Proxmox]) -> list[Check]:
    from proxshift.engine.vm_lifecycle import vm_status

    try:
        rows = vm_status(proxmox(), project.cluster(cluster_name))
    except ProxshiftError as exc:
        return [_failed("vms", "Proxmox", exc.message, exc.hint)]
    return [_vm_check(cluster_name, row) for row in rows]


def _vm_check(cluster: str, row: dict[str, Any]) -> Check:
    name, where = f"VM {row['host']}", f"VM {row['vmid']} on {row['node']}"
    if not row["exists"]:
        return _failed("vms", name, f"no VM {row['vmid']} on Proxmox", f"proxshift provision {cluster}")
    if not row["ours"]:
        return _failed("vms", name, f"{where} is not proxshift's: {row['note']}", "see 'proxshift status'")
    if row["status"] != "running":
        return _failed("vms", name, f"{where} is {row['status']}", f"proxshift start {cluster}")
    memory = f"memory {row['mem'] / 2**30:.1f} of {row['maxmem'] / 2**30:.1f} GiB"
    detail = f"{where} running, up {_span(row['uptime'])}, CPU {row['cpu'] * 100:.0f} %, {memory}"
    return _ok("vms", name, detail)


def _span(seconds: float) -> str:
    minutes = int(seconds) // 60
    days, hours = minutes // 1440, minutes // 60 % 24
    return f"{days}d {hours}h" if days else f"{hours}h {minutes % 60}m"


# -- the cluster's API -------------------------------------------------------------------------------------


def _cluster(kube: Callable[[], Kube], now: Callable[[], float]) -> list[Check]:
    from proxshift.clients.openshift import readyz

    try:
        api = kube()
        failing = readyz(api)
    except ProxshiftError as exc:  # unreachable, or no kubeconfig: nothing else can be read, one row says so
        return [_failed("api", "API", exc.message, exc.hint)]
    checks = [
        _ok("api", "API /readyz", f"{api.server} is ready")
        if not failing
        else _failed("api", "API /readyz", "not ready: " + ", ".join(failing), "see the kube-apiserver operator")
    ]
    reads: list[Callable[[], list[Check]]] = [
        lambda: _certificate(api, now),
        lambda: _version(api),
        lambda: _operators(api),
        lambda: _nodes(api),
    ]
    for read in reads:
        try:
            checks += read()
        except ProxshiftError as exc:
            checks.append(_failed("cluster", "API", exc.message, exc.hint))
    return checks


def _certificate(api: Kube, now: Callable[[], float]) -> list[Check]:
    from proxshift.clients.openshift import serving_certificate

    certificate = serving_certificate(api, API_TIMEOUT)
    days = (certificate.expires - now()) / 86400
    date = datetime.fromtimestamp(certificate.expires, UTC).strftime("%Y-%m-%d")
    if days < 0:
        return [_failed("api", "API certificate", f"expired on {date}", "renew it (see docs/health.md)")]
    rotated = certificate.rotated_by_the_cluster
    detail = f"expires {date}, in {days:.0f} days" + (" (the cluster renews it)" if rotated else "")
    if days < (ROTATED_CERTIFICATE_WARNING_DAYS if rotated else CERTIFICATE_WARNING_DAYS):
        hint = "the kube-apiserver operator is not renewing it" if rotated else "renew it before it expires"
        return [Check("API certificate", "warning", detail, hint, "api")]
    return [_ok("api", "API certificate", detail)]


def _version(api: Kube) -> list[Check]:
    from proxshift.clients.kube import conditions
    from proxshift.clients.openshift import cluster_version

    found = cluster_version(api)
    if found is None:
        return [
            Check("ClusterVersion", "failed", "no ClusterVersion 'version'", "is this an OpenShift cluster?", "cluster")
        ]
    status = found.get("status") or {}
    version = (status.get("desired") or {}).get("version") or "unknown version"
    state = conditions(found)
    available, progressing, failing = (state.get(k) or {} for k in ("Available", "Progressing", "Failing"))
    if failing.get("status") == "True" or available.get("status") != "True":
        why = failing.get("message") if failing.get("status") == "True" else available.get("message")
        detail = (
            f"{version}: {'Failing' if failing.get('status') == 'True' else 'not Available'}: {why or 'no message'}"
        )
        return [Check("ClusterVersion", "failed", detail, "oc adm upgrade; oc get clusteroperators", "cluster")]
    if progressing.get("status") == "True":
        detail = f"{version}: Available, Progressing: {progressing.get('message') or ''}".rstrip(": ")
        return [Check("ClusterVersion", "warning", detail, "an update or a change is rolling out", "cluster")]
    return [Check("ClusterVersion", "ok", f"{version}: Available", "", "cluster")]


def _operators(api: Kube) -> list[Check]:
    from proxshift.clients.kube import conditions
    from proxshift.clients.openshift import cluster_operators, name_of

    operators = cluster_operators(api)
    checks = []
    for operator in sorted(operators, key=name_of):
        state = conditions(operator)
        available, degraded = state.get("Available") or {}, state.get("Degraded") or {}
        if degraded.get("status") == "True":
            problem = f"Degraded: {degraded.get('message') or degraded.get('reason') or 'no message'}"
        elif available.get("status") != "True":
            problem = f"not Available: {available.get('message') or available.get('reason') or 'no message'}"
        else:
            continue
        name = name_of(operator)
        checks.append(
            Check(f"ClusterOperator {name}", "failed", problem, f"oc describe clusteroperator {name}", "cluster")
        )
    if not checks:
        checks.append(Check("ClusterOperators", "ok", f"{len(operators)} Available, none Degraded", "", "cluster"))
    return checks


def _nodes(api: Kube) -> list[Check]:
    from proxshift.clients.openshift import name_of, node_problem, nodes

    found = nodes(api)
    troubled = {name_of(n): p for n in found if (p := node_problem(n)) is not None}
    ready = f"{len(found) - len(troubled)} of {len(found)} Ready"
    if not troubled:
        return [Check("Nodes", "ok", ready, "", "cluster")]
    return [
        Check(
            f"Node {name}", "failed", f"{problem} ({ready})", f"oc describe node {name}; its VM in Proxmox", "cluster"
        )
        for name, problem in sorted(troubled.items())
    ]


# -- ACM ---------------------------------------------------------------------------------------------------


def _acm(project: Project, cluster_name: str, notify: Notify, hub_file: Path | None) -> list[Check]:
    from proxshift.clients.acm import AVAILABLE, JOINED, MANAGED_CLUSTER, addons
    from proxshift.clients.kube import conditions
    from proxshift.engine.acm_flow import hub_absent, hub_kube
    from proxshift.engine.state import State

    if hub_absent(project, cluster_name, hub_file):
        return []  # not meant to be imported anywhere

    def imported() -> bool:  # never imported (provision --skip acm): the hub's word is a warning, not a failure
        return State(project.paths.install_dir(cluster_name).state_file).ever_done("acm")

    try:
        hub_name, hub = hub_kube(project, notify, API_TIMEOUT, hub_file)
        managed = hub.get(*MANAGED_CLUSTER, cluster_name)
        states = addons(hub, cluster_name) if managed is not None else {}
    except ProxshiftError as exc:
        if not imported():
            return [Check("ACM hub", "warning", f"{exc.message} (the acm phase has not run)", exc.hint or "", "acm")]
        return [_failed("acm", "ACM hub", exc.message, exc.hint)]
    if managed is None:
        detail = f"no ManagedCluster {cluster_name} on hub {hub_name}"
        hint = f"proxshift acm import {cluster_name}"
        if not imported():
            return [Check("ACM ManagedCluster", "warning", f"{detail} (the acm phase has not run)", hint, "acm")]
        return [_failed("acm", "ACM ManagedCluster", detail, hint)]
    state = conditions(managed)
    problems = [
        f"{kind}: {condition.get('message') or condition.get('status') or 'missing'}"
        for kind in (JOINED, AVAILABLE)
        if (condition := state.get(kind) or {}).get("status") != "True"
    ]
    checks = [
        Check("ACM ManagedCluster", "failed", "; ".join(problems), "see the klusterlet on the cluster", "acm")
        if problems
        else Check("ACM ManagedCluster", "ok", f"joined and available on hub {hub_name}", "", "acm")
    ]
    pending = sorted(name for name, addon in states.items() if addon != "available")
    checks += [
        Check(f"ACM add-on {name}", "failed", "not Available", "see the add-on on the hub", "acm") for name in pending
    ]
    if not pending:
        checks.append(Check("ACM add-ons", "ok", f"{len(states)} Available", "", "acm"))
    return checks
