"""The phases that change VMs on Proxmox: vms (create) and start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxshift.engine.phases.base import Phase, PhaseContext
from proxshift.errors import OperationError

if TYPE_CHECKING:
    from proxshift.engine.vm_run import VmRun


def _outcome(phase: Phase, ctx: PhaseContext, run: VmRun) -> None:
    """Each VM's end as its row's last state; one line for the lot; the failures as the phase's error."""
    for result in run.results:
        state = result.detail if result.ok else "FAILED"
        details = {"vmid": str(result.vmid), "node": result.node, "time": f"{result.seconds:.1f} s"}
        if not result.ok:
            details["error"] = result.detail
        phase.host(ctx, result.host, state, **details)
    counts: dict[str, int] = {}
    for result in run.results:
        key = result.detail if result.ok else "failed"
        counts[key] = counts.get(key, 0) + 1
    phase.log(ctx, f"{len(run.results)} VMs: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    if run.failed:
        raise OperationError(
            f"{phase.name}: " + "; ".join(f"{r.host}: {r.detail}" for r in run.results if not r.ok),
            f"fix it, then 'proxshift provision {ctx.name} --from {phase.name}'",
        )


class Vms(Phase):
    name = "vms"
    description = "creates the VMs (leaves matching ones alone)"
    unchanged = "the cluster's entry and the site config are unchanged, and every VM exists"
    rebuilds = True

    def result_gone(self, ctx: PhaseContext) -> str | None:
        gone = [p for p in ctx.vm_plans() if p.action == "create"]
        if gone:
            return ", ".join(f"VM {p.spec.host} (vmid {p.spec.vmid})" for p in gone) + " does not exist"
        recreate = [p for p in ctx.vm_plans() if p.action == "recreate"]
        if recreate:
            return ", ".join(f"VM {p.spec.host}" for p in recreate) + " differs from the inventory (--force)"
        return None

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        return {
            "vms": [
                {
                    "host": p.spec.host,
                    "vmid": p.spec.vmid,
                    "node": p.spec.node,
                    "action": p.action,
                    "reason": p.reason,
                    "drift": [str(d) for d in p.drift],
                    "params": dict(p.spec.params.items()),
                }
                for p in ctx.vm_plans()
            ]
        }

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.vm_lifecycle import create_vms

        run = create_vms(
            ctx.proxmox(),
            ctx.cluster,
            force=ctx.options.force,
            progress=lambda host, message: self.host(ctx, host, message),
        )
        ctx.forget_vm_plans()
        ctx.results.created += [r.host for r in run.results if r.ok and r.detail in ("created", "recreated")]
        _outcome(self, ctx, run)


class Start(Phase):
    name = "start"
    description = "starts them"
    unchanged = "the cluster's entry and the site config are unchanged, and every VM runs"

    def result_gone(self, ctx: PhaseContext) -> str | None:
        stopped = [p for p in ctx.vm_plans() if p.action != "create" and p.status != "running"]
        return ", ".join(f"VM {p.spec.host} is {p.status or 'not running'}" for p in stopped) if stopped else None

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        return {"vms": [p.spec.host for p in ctx.vm_plans()]}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.vm_lifecycle import start_vms

        run = start_vms(ctx.proxmox(), ctx.cluster, progress=lambda host, message: self.host(ctx, host, message))
        ctx.forget_vm_plans()
        _outcome(self, ctx, run)
