"""`proxshift doctor`: what preflight checks, as a table of ok / warning / failed with a hint each."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxshift.config.project import Project
from proxshift.config.pve_keys import INSTALL_ISO_SLOT, is_disk_slot
from proxshift.errors import OperationError, ProxshiftError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.engine.vm_checks import NodeFacts
    from proxshift.engine.vmspec import VmSpec


@dataclass
class Check:
    name: str
    status: str  # ok, warning, failed
    detail: str
    hint: str = ""
    part: str = ""  # what it is about (health: vms, api, cluster, acm)

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "hint": self.hint}


class Findings(OperationError):
    """Several problems found by one check: one row each."""

    def __init__(self, problems: list[str], hint: str) -> None:
        super().__init__("; ".join(problems), hint)
        self.problems = problems


def _run(checks: list[Check], name: str, probe: Callable[[], str], hint: str = "", warn: bool = False) -> Any:
    try:
        detail = probe()
    except Findings as exc:
        status = "warning" if warn else "failed"
        checks.extend(Check(name, status, problem, exc.hint or hint) for problem in exc.problems)
        return None
    except ProxshiftError as exc:
        checks.append(Check(name, "warning" if warn else "failed", exc.message, exc.hint or hint))
        return None
    checks.append(Check(name, "ok", detail))
    return detail


def _resolves(name: str) -> set[str]:
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(name, None, socket.AF_INET)}
    except OSError:
        return set()


def run_checks(project: Project, cluster_name: str | None, notify: Callable[[str], None]) -> list[Check]:
    from proxshift.engine.connections import proxmox_for
    from proxshift.engine.vault_check import check_vault

    scope = f" {cluster_name}" if cluster_name else ""
    warnings = len(project.warnings)  # what `proxshift validate` says for the same clusters
    checks = [
        Check(
            "inventory and site config",
            "ok" if not warnings else "warning",
            f"{len(project.inventory.clusters)} clusters; {warnings} warning{'s' if warnings != 1 else ''}"
            + (f" for {cluster_name}" if cluster_name else ""),
            f"run 'proxshift validate{scope}' for the warnings" if warnings else "",
        )
    ]

    def vault() -> str:
        rows = check_vault(project, cluster_name, notify)
        bad = [r for r in rows if not r.ok]
        if bad:
            raise Findings([f"{r.item}: {r.detail}" for r in bad], "see 'proxshift vault check'")
        return f"{len(rows) - 1} inputs readable, credentials path writable"

    _run(checks, "Vault", vault)
    clusters = [project.cluster(cluster_name)] if cluster_name else list(project.inventory.clusters.values())
    for version in sorted({c.vars.ocp_version for c in clusters}):
        _run(checks, f"openshift-install {version}", _installer_probe(project, version), warn=True)
    if cluster_name is None:
        return checks
    cluster = project.cluster(cluster_name)
    from proxshift.engine.vm_checks import NodeFacts
    from proxshift.engine.vm_plan import specs_for

    reached = _run(
        checks, "Proxmox", lambda: _reach(project, cluster_name, notify), "check proxmox.host and the credentials"
    )
    if reached is not None:
        prox, _ = proxmox_for(project, cluster_name, notify)
        specs = specs_for(cluster)
        facts = NodeFacts(prox)
        _run(checks, "Proxmox privileges", lambda: _privileges(specs, facts))
        _run(checks, "nodes, storages, bridges, boot order", lambda: _environment(facts, specs))
        _run(checks, "ISO on its storage", lambda: _environment(facts, specs, iso=True), warn=True)
        _run(checks, "vmids free or proxshift's", lambda: _vmids(prox, specs))
        _run(checks, "storage space", lambda: _space(prox, specs), warn=True)
    domain = cluster.base_domain
    for host, want in (
        (f"api.{cluster_name}.{domain}", cluster.api_address),
        (f"test.apps.{cluster_name}.{domain}", cluster.ingress_address),
    ):
        addresses = _resolves(host)
        status = "ok" if str(want) in addresses else "warning"
        checks.append(
            Check(
                f"DNS {host}",
                status,
                f"resolves to {', '.join(sorted(addresses)) or 'nothing'} (want {want})",
                "" if status == "ok" else "create the record: the install fails late without it",
            )
        )
    return checks


def _installer_probe(project: Project, version: str) -> Callable[[], str]:
    from proxshift.clients.installer import find_installer

    return lambda: str(find_installer(version, project.settings.ocp_installer_path).path)


def _reach(project: Project, cluster: str, notify: Callable[[str], None]) -> str:
    from proxshift.engine.connections import proxmox_for

    prox, _ = proxmox_for(project, cluster, notify)
    return f"{len(prox.cluster.guests())} guests visible at {prox.endpoint.host}:{prox.endpoint.port}"


def _privileges(specs: list[VmSpec], facts: NodeFacts) -> str:
    from proxshift.engine.vm_checks import missing_privileges

    missing = missing_privileges(specs, facts, iso_upload=True)
    if missing:
        raise OperationError("missing: " + ", ".join(missing[:6]), "grant the role in docs/proxmox.md")
    return "all held"


def _environment(facts: NodeFacts, specs: list[VmSpec], iso: bool = False) -> str:
    from proxshift.engine.vm_checks import check_environment

    problems = [p for p in check_environment(facts, specs, iso_present=iso) if ("ISO" in p) == iso]
    # An ISO not uploaded yet is no problem: provision's upload phase puts it there.
    not_yet = [p for p in problems if " is not on storage " in p]
    problems = [p for p in problems if p not in not_yet]
    if problems:
        raise Findings(problems, "fix the inventory or the Proxmox side")
    if not_yet:
        return "not uploaded yet: provision's upload phase puts it there"
    return "ok"


def _vmids(prox: Proxmox, specs: list[VmSpec]) -> str:
    from proxshift.engine.vm_plan import plan_vms

    plans = plan_vms(prox, specs)
    refused = [f"{p.spec.host}: {p.reason}" for p in plans if p.action == "refuse"]
    if refused:
        raise Findings(refused, "free those vmids or change the inventory")
    return ", ".join(f"{p.spec.vmid} {p.action}" for p in plans)


def _space(prox: Proxmox, specs: list[VmSpec]) -> str:
    from proxshift.clients.proxmox.options import split_options

    need: dict[tuple[str, str], float] = {}
    for spec in specs:
        for key, value in spec.params.items():
            if is_disk_slot(key) and key != INSTALL_ISO_SLOT and ":" in str(value):
                storage, size = split_options(str(value))[0].split(":")
                need[(spec.node, storage)] = need.get((spec.node, storage), 0) + float(size)
    short = []
    for (node, storage), gib in need.items():
        info = prox.storage.info(node, storage)
        avail = float(info.get("avail", 0)) / 2**30
        if avail < gib:
            short.append(f"{storage} on {node}: {avail:.0f} GiB free for {gib:.0f} GiB")
    if short:
        raise Findings(short, "thin pools may overcommit; make sure they will not fill up")
    return "enough for every disk"
