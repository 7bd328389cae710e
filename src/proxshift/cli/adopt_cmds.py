"""`adopt <cluster>`: take over the VMs, credentials and progress of a cluster the predecessor built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.consent import asker
from proxshift.cli.context import AppContext
from proxshift.errors import Aborted, OperationError

if TYPE_CHECKING:
    from proxshift.cli.console import UI
    from proxshift.engine.adopt import AdoptPlan, AdoptResult


def _verdict(check: Any) -> str:
    from proxshift.engine.adopt import VERDICTS

    text = VERDICTS[check.verdict]
    if check.verdict in ("mismatch", "other-cluster", "missing"):
        text += f": {check.reason}"
    return text


def _table(ui: UI, plan: AdoptPlan) -> None:
    ui.table(
        None,
        ("HOST", "VMID", "NODE", "VERDICT", "DRIFT"),
        [
            (
                v.spec.host,
                str(v.spec.vmid),
                v.node or v.spec.node,
                _verdict(v),
                "; ".join(str(d) for d in v.drift) or "-",
            )
            for v in plan.vms
        ],
    )


def _summary(plan: AdoptPlan, dry_run: bool, recorded: list[str] | None = None) -> list[str]:
    lines = [f"credentials: {plan.credentials.describe(dry_run)}"]
    lines.append(f"install: {plan.observed['wait'][1]}")
    lines.append(f"ACM: {plan.observed['acm'][1]}")
    missing = [v.spec.host for v in plan.vms if v.verdict == "missing"]
    if missing:
        lines.append(f"missing: {', '.join(missing)}; 'proxshift vms create {plan.cluster}' creates them")
    phases = plan.to_record() if recorded is None else recorded
    if phases:
        verb = "would record" if dry_run else "recorded"
        lines.append(f"state.json: {verb} {', '.join(phases)} as done (a later provision resumes after them)")
    return lines


def _confirm(ui: UI, plan: AdoptPlan, yes: bool) -> None:
    """The one consent prompt (cli/consent.py): the VMs listed, then a question or --yes; no is exit 1."""
    items = [f"{v.spec.host} (vmid {v.spec.vmid} on {v.node})" for v in plan.to_mark] or ["(no VM)"]
    if plan.credentials.source == "install-dir":
        items.append(f"and store the credentials in Vault at {plan.credentials.location}")
    if not asker(ui, yes, f"adopt {plan.cluster}")(f"Mark these VMs as proxshift's VMs of {plan.cluster}:", items):
        raise Aborted()


def _as_json(plan: AdoptPlan, dry_run: bool, result: AdoptResult | None) -> dict[str, Any]:
    return {
        "cluster": plan.cluster,
        "dry_run": dry_run,
        "vms": [
            {
                "host": v.spec.host,
                "vmid": v.spec.vmid,
                "node": v.node or v.spec.node,
                "verdict": v.verdict,
                "reason": v.reason,
                "drift": [str(d) for d in v.drift],
                "outcome": v.outcome,
            }
            for v in plan.vms
        ],
        "credentials": {
            "source": plan.credentials.source,
            "location": plan.credentials.location,
            "summary": plan.credentials.describe(dry_run),
        },
        "observed": {"install": plan.observed["wait"][1], "acm": plan.observed["acm"][1]},
        "phases": plan.to_record() if result is None else result.recorded,
        "changed": bool(result and result.changed),
    }


def _fail_on_problems(plan: AdoptPlan) -> None:
    problems = plan.problems()
    if problems:
        raise OperationError(
            "not adopted:\n  " + "\n  ".join(problems),
            "nothing was changed on those VMs; correct the inventory or the VM, then run adopt again",
        )


def adopt(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name from the inventory.", autocompletion=complete_cluster)],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the verdicts and the plan; change nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Take over a cluster the predecessor built: mark its VMs, bring over its credentials, record its progress."""
    from proxshift.engine.adopt import apply_adoption, plan_adoption

    context: AppContext = ctx.obj
    ui = context.ui
    project = context.project(only=[cluster])
    plan = plan_adoption(project, cluster, ui.warning)
    if not as_json:
        _table(ui, plan)
    if dry_run or plan.nothing_to_do:
        if as_json:
            ui.json(_as_json(plan, dry_run, None))
        else:
            for line in _summary(plan, dry_run):
                ui.out.file.write(line + "\n")
            if dry_run:
                ui.info("dry run: nothing was changed")
            elif not plan.problems():
                ui.info(f"nothing to change: {cluster} is adopted already")
        _fail_on_problems(plan)
        return
    _confirm(context.ui, plan, yes)
    result = apply_adoption(project, plan, ui.warning)
    if as_json:
        ui.json(_as_json(plan, dry_run, result))
    else:
        for check in plan.vms:
            if check.outcome == "adopted":
                ui.success(f"{check.spec.host} (vmid {check.spec.vmid}): adopted")
        for line in _summary(plan, dry_run, result.recorded):
            ui.out.file.write(line + "\n")
    _fail_on_problems(plan)
