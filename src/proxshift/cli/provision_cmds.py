"""`provision`: the whole flow, rendered live, as plain lines or as JSON events; `--dry-run` prints the plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from proxshift.cli.context import AppContext
from proxshift.engine.phases.flow import names

PHASES = ", ".join(names())


def _phases(value: str | list[str] | None) -> str | list[str] | None:
    """--from, --only and --skip take a phase of the list (engine/phases/flow.py); anything else is exit 2."""
    for name in [value] if isinstance(value, str) else value or []:
        if name not in names():
            raise typer.BadParameter(f"'{name}' is not a phase; the phases: {PHASES}")
    return value


def provision(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name from the inventory.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the whole plan; change nothing anywhere.")] = False,
    force: Annotated[
        bool, typer.Option(help="Recreate drifted VMs; tear down and rebuild a live cluster (lists what goes, asks).")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask before --force destroys (needed without a terminal).")
    ] = False,
    start_from: Annotated[
        str | None, typer.Option("--from", metavar="PHASE", callback=_phases, help=f"Start at this phase: {PHASES}.")
    ] = None,
    only: Annotated[str | None, typer.Option(metavar="PHASE", callback=_phases, help="Run only this phase.")] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(metavar="PHASE", callback=_phases, help="Skip this phase (repeatable), e.g. --skip acm."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line instead of the live view.")] = False,
    timeout: Annotated[str, typer.Option(help="Install wait limit (e.g. 120m).")] = "120m",
    poll_interval: Annotated[float, typer.Option(min=0.01, help="Seconds between install polls.")] = 5.0,
    acm_mode: Annotated[
        Literal["auto", "manual"], typer.Option(help="ACM import: auto (hub only) or manual (klusterlet applied here).")
    ] = "auto",
    hub_kubeconfig: Annotated[
        Path | None, typer.Option(help="Hub kubeconfig [env: PROXSHIFT_HUB_KUBECONFIG; default: from Vault].")
    ] = None,
) -> None:
    """Provision a cluster end to end: every phase from preflight to the ACM import and what is configured after."""
    from proxshift.cli.consent import asker
    from proxshift.cli.render.choose import ending_with_error, renderer
    from proxshift.cli.render.plan import plan_text
    from proxshift.config.durations import parse_duration
    from proxshift.engine.phases.base import Options
    from proxshift.engine.provision import Provision

    context: AppContext = ctx.obj
    ui = context.ui
    options = Options(
        force=force,
        start_from=start_from,
        only=only,
        skip=tuple(skip or ()),
        wait_timeout=parse_duration(timeout),
        wait_poll=poll_interval,
        acm_mode=acm_mode,
        hub_kubeconfig=hub_kubeconfig,
    )
    if dry_run:
        project = context.project(only=[cluster], quiet=as_json)
        with renderer(ui) as report:  # warnings on stderr; the plan is the output
            plans = Provision(project, cluster, options, report).plan()
        if as_json:
            ui.json([plan.as_dict() for plan in plans])
        else:
            ui.stdout.write(plan_text(plans))
        ui.info("dry run: nothing was changed anywhere")
        return
    with renderer(ui, as_json) as report, ending_with_error(report):
        project = context.project(only=[cluster], quiet=as_json)
        Provision(project, cluster, options, report, confirm=asker(ui, yes, f"provision {cluster} --force")).run()
