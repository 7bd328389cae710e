"""`provision --force`: what it would destroy, the user's consent to it, and the teardown of a live cluster.

`--force` never destroys without asking: before the first change, the exact list of what goes (each VM by
vmid and name, the ISO, the ACM detach, the install dir to be archived, the Vault credentials that stay) is
put to `confirm`; no is `Aborted` (exit 1, nothing changed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxshift.engine.events import Confirm, Log
from proxshift.engine.phases.base import PhaseContext
from proxshift.errors import Aborted, OperationError

if TYPE_CHECKING:
    from proxshift.engine.vmspec import VmPlan


def consent_to_force(ctx: PhaseContext, live: str | None, confirm: Confirm) -> None:
    """Ask before --force destroys anything: the whole cluster when it is live, else the VMs it recreates."""
    from proxshift.engine.deprovision import deprovision
    from proxshift.engine.vm_plan import check_before_create, check_before_rebuild

    prox = ctx.proxmox()
    if live is not None:
        check_before_rebuild(prox, ctx.cluster)  # a teardown is never followed by a refusal
        plan = deprovision(
            ctx.project, ctx.name, dry_run=True, hub_file=ctx.options.hub_kubeconfig, prox=prox, notify=ctx.notify
        )
        if plan.refusal is not None:
            raise OperationError(
                plan.refusal.message,
                f"nothing was changed; take it down with 'proxshift deprovision {ctx.name} --keep-acm' (detach it "
                f"later: proxshift acm detach {ctx.name}), then provision it",
            )
        question = (
            f"--force: {ctx.name} is a live cluster (its API at {live} answers); "
            "this tears it down and provisions it again:"
        )
        items = plan.items(ctx.project.paths.shown)
    else:
        if "vms" not in ctx.selected:
            return
        plans = check_before_create(prox, ctx.cluster, force=True, iso_upload=True, iso_present=False)
        recreate = [p for p in plans if p.action == "recreate"]
        if not recreate:
            return
        question, items = RECREATE_QUESTION, recreate_items(recreate)
    if not confirm(question, items):
        raise Aborted()


RECREATE_QUESTION = "--force recreates these VMs: each is destroyed, disks and all, and created anew:"


def recreate_items(plans: list[VmPlan]) -> list[str]:
    """One line per VM --force would recreate: where it is, its power state, how it differs."""
    return [
        f"recreate   VM {p.spec.host} (vmid {p.spec.vmid} on {p.current_node or p.spec.node}, "
        f"{p.status or 'stopped'}): " + "; ".join(str(d) for d in p.drift)
        for p in plans
        if p.action == "recreate"
    ]


def tear_down(ctx: PhaseContext) -> None:
    """--force on a live cluster: detach from ACM, destroy our VMs, move the install directory to history."""
    from proxshift.engine.deprovision import deprovision

    ctx.report(
        Log("preflight", "--force: detaching from ACM, destroying the VMs, moving the install directory to history")
    )
    teardown = deprovision(
        ctx.project,
        ctx.name,
        acm_timeout=ctx.options.acm_timeout,
        hub_file=ctx.options.hub_kubeconfig,
        prox=ctx.proxmox(),
        notify=ctx.notify,
        report=lambda m: ctx.report(Log("acm", m.strip())),
    )
    ctx.forget_vm_plans()
    acm = f"ACM detach skipped: {teardown.acm_skipped}" if teardown.acm_skipped else str(teardown.acm)
    ctx.report(Log("acm", acm))
    if teardown.run.failed:
        raise OperationError(
            "tearing the cluster down failed: "
            + "; ".join(f"{r.host}: {r.detail}" for r in teardown.run.results if not r.ok),
            "see 'proxshift status'",
        )
    if teardown.archive:
        shown = ctx.project.paths.shown(teardown.archive)
        ctx.report(Log("preflight", f"previous install directory moved to {shown}"))
