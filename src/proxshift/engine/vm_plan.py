"""The per-VM plan against what Proxmox holds now, the refusals, and the one check before any write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxshift.engine.vm_checks import NodeFacts, check_environment, missing_privileges
from proxshift.engine.vm_run import in_parallel
from proxshift.engine.vmspec import VmPlan, VmSpec, plan_vm, vm_spec
from proxshift.errors import OperationError, UserInputError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.clients.proxmox.cluster import Guest
    from proxshift.config.inventory import Cluster


def specs_for(cluster: Cluster) -> list[VmSpec]:
    return [vm_spec(node, cluster) for node in cluster.nodes]


def plan_vms(
    prox: Proxmox, specs: list[VmSpec], force: bool = False, guests: dict[int, Guest] | None = None
) -> list[VmPlan]:
    """Read the cluster's guests once (unless given), then the config of each VM that already has one
    of our vmids."""
    if guests is None:
        guests = prox.cluster.guests()

    def plan_one(spec: VmSpec) -> VmPlan:
        guest = guests.get(spec.vmid)
        config = prox.vms.config(guest.node, spec.vmid) if guest and guest.kind == "qemu" else None
        return plan_vm(spec, guest, config, force)

    return in_parallel(specs, plan_one)


def refusals(plans: list[VmPlan]) -> list[VmPlan]:
    return [p for p in plans if p.action in ("refuse", "drift")]


def refuse(plans: list[VmPlan]) -> None:
    """Exit 2 naming every VM that may not be touched (foreign) or not without --force (drifted)."""
    bad = refusals(plans)
    if bad:
        lines = [
            f"{p.spec.host} (vmid {p.spec.vmid}): {p.reason}" + "".join(f"\n    {d}" for d in p.drift) for p in bad
        ]
        hint = (
            "VMs proxshift did not create are never touched; free those vmids or change the inventory"
            if any(p.action == "refuse" for p in bad)
            else "run again with --force to recreate the drifted VMs"
        )
        raise UserInputError("refusing to change anything:\n  " + "\n  ".join(lines), hint)


def existing_ours(prox: Proxmox, cluster: Cluster) -> tuple[list[VmPlan], list[VmPlan]]:
    """(our VMs that exist, plans for inventory VMs that do not exist); refuses foreign ones."""
    plans = plan_vms(prox, specs_for(cluster))
    refuse([p for p in plans if p.action == "refuse"])
    return [p for p in plans if p.action != "create"], [p for p in plans if p.action == "create"]


def _first_reads(prox: Proxmox) -> NodeFacts:
    """What the checks before any write read first, at once: the privileges, the guests (the plan), the
    nodes (the environment)."""
    facts = NodeFacts(prox)
    _ = prox.connection.api  # one login, before the reads go out together
    facts.read_together(facts.privileges, facts.guests, facts.nodes)
    return facts


def check_before_create(
    prox: Proxmox, cluster: Cluster, *, force: bool, iso_upload: bool = False, iso_present: bool = True
) -> list[VmPlan]:
    """Everything that can be known before a write: privileges, the per-VM plan, the Proxmox side."""
    specs = specs_for(cluster)
    facts = _first_reads(prox)
    missing = missing_privileges(specs, facts, iso_upload=iso_upload)
    if missing:
        raise OperationError(
            f"the Proxmox credentials of {prox.credentials.user} lack: {', '.join(missing[:6])}"
            + (f" (and {len(missing) - 6} more)" if len(missing) > 6 else ""),
            "grant the role in docs/proxmox.md to the token (privilege separation starts with none)",
        )
    plans = plan_vms(prox, specs, force, guests=facts.guests())
    refuse(plans)
    to_build = [p.spec for p in plans if p.action in ("create", "recreate")]
    problems = check_environment(facts, to_build, iso_present=iso_present)
    if problems:
        raise UserInputError(
            "the Proxmox cluster cannot hold these VMs:\n  " + "\n  ".join(problems),
            "fix the inventory or the Proxmox side, then run again",
        )
    return plans


def check_before_rebuild(prox: Proxmox, cluster: Cluster) -> None:
    """Before a teardown (`provision --force` on a live cluster): would every VM be created anew afterwards?

    The same checks as check_before_create, for all VMs as if none existed, so that a teardown is never
    followed by a refusal: privileges, foreign VMs on our vmids, nodes, storages, bridges, boot order."""
    specs = specs_for(cluster)
    facts = _first_reads(prox)
    missing = missing_privileges(specs, facts, iso_upload=True)
    if missing:
        raise OperationError(
            f"the Proxmox credentials of {prox.credentials.user} lack: {', '.join(missing[:6])}",
            "grant the role in docs/proxmox.md to the token; nothing was changed",
        )
    refuse([p for p in plan_vms(prox, specs, guests=facts.guests()) if p.action == "refuse"])
    problems = check_environment(facts, specs, iso_present=False)
    if problems:
        raise UserInputError(
            "the Proxmox cluster could not hold these VMs once they are torn down:\n  " + "\n  ".join(problems),
            "nothing was changed; fix the inventory or the Proxmox side, then run again",
        )
