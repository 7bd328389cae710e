"""`provision`: the whole flow, rendered live, as plain lines or as JSON events; `--dry-run` prints the plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext
from proxshift.engine.phases.flow import names

if TYPE_CHECKING:
    from proxshift.engine.phases.base import Options

PHASES = ", ".join(names())


def _phases(value: str | list[str] | None) -> str | list[str] | None:
    """--from, --only and --skip take a phase of the list (engine/phases/flow.py); anything else is exit 2."""
    for name in [value] if isinstance(value, str) else value or []:
        if name not in names():
            raise typer.BadParameter(f"'{name}' is not a phase; the phases: {PHASES}")
    return value


def provision(
    ctx: typer.Context,
    cluster: Annotated[
        list[str],
        typer.Argument(
            metavar="CLUSTER...",
            help="Cluster names from the inventory (one or more).",
            autocompletion=complete_cluster,
        ),
    ],
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
    parallel: Annotated[
        int, typer.Option(min=1, help="With several clusters: how many run at once, each in its own process.")
    ] = 1,
) -> None:
    """Provision clusters end to end: every phase from preflight to the ACM import, then what is configured after
    (restore, labels, gitops, eso, apps, storage) and health.

    Several clusters run side by side (up to --parallel), each under its own lock and state; the exit code is
    the worst of their runs.
    """
    from proxshift.cli.consent import asker
    from proxshift.cli.render.choose import ending_with_error, renderer
    from proxshift.config.durations import parse_duration
    from proxshift.engine.phases.base import Options
    from proxshift.engine.provision import Provision

    context: AppContext = ctx.obj
    ui = context.ui
    clusters = list(dict.fromkeys(cluster))
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
        _dry_run(context, clusters, options, as_json)
        return
    if len(clusters) > 1:
        _several(context, clusters, options, as_json, parallel, yes)
        return
    with renderer(ui, as_json) as report, ending_with_error(report, clusters[0]):
        project = context.project(only=clusters, quiet=as_json)
        confirm = asker(ui, yes, f"provision {clusters[0]} --force")
        Provision(project, clusters[0], options, report, confirm=confirm).run()


def _dry_run(context: AppContext, clusters: list[str], options: Options, as_json: bool) -> None:
    """The plan of each cluster: text under a `# <cluster>` line each when several; JSON: one cluster's array,
    or an object of arrays by cluster."""
    from proxshift.cli.render.choose import renderer
    from proxshift.cli.render.plan import plan_text
    from proxshift.engine.provision import Provision

    ui = context.ui
    project = context.project(only=clusters, quiet=as_json)
    plans = {}
    with renderer(ui) as report:  # warnings on stderr; the plan is the output
        for name in clusters:
            plans[name] = Provision(project, name, options, report).plan()
    if as_json:
        data = {name: [plan.as_dict() for plan in found] for name, found in plans.items()}
        ui.json(data[clusters[0]] if len(clusters) == 1 else data)
    else:
        for name, found in plans.items():
            ui.stdout.write((f"# {name}\n" if len(clusters) > 1 else "") + plan_text(found))
    ui.info("dry run: nothing was changed anywhere")


def _several(
    context: AppContext, clusters: list[str], options: Options, as_json: bool, parallel: int, yes: bool
) -> None:
    """Each cluster in its own process (engine/fleet.py); one summary row each; exit with the worst. The runs
    have no terminal to ask on: what --force would destroy needs --yes (without it, that cluster is refused)."""
    from proxshift.cli.render.choose import renderer
    from proxshift.cli.render.fleet import show_outcomes
    from proxshift.engine.fleet import Fleet, worst

    project = context.project(only=clusters, quiet=as_json)  # every name and file checked before any run starts
    with renderer(context.ui, as_json, clusters) as report:
        outcomes = Fleet(project.paths, clusters, options, report, parallel, debug=context.debug, yes=yes).run()
    show_outcomes(context.ui, outcomes)
    code = worst([outcome.exit_code for outcome in outcomes])
    if code:
        raise typer.Exit(code)
