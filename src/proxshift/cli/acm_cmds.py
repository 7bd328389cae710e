"""`acm import` and `acm detach`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext

HubFile = Annotated[
    Path | None, typer.Option(help="Hub kubeconfig [env: PROXSHIFT_HUB_KUBECONFIG; default: from Vault].")
]
Timeout = Annotated[str, typer.Option(help="Give up after this long (e.g. 15m).")]


def _print_documents(context: AppContext, documents: list[dict[str, object]], verb: str) -> None:
    import yaml

    for document in documents:
        context.ui.out.file.write(f"# {verb}\n---\n{yaml.safe_dump(document, sort_keys=False)}")


def acm_import(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name.", autocompletion=complete_cluster)],
    mode: Annotated[
        Literal["auto", "manual"], typer.Option(help="auto: hub only; manual: apply the klusterlet here.")
    ] = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the documents; change nothing.")] = False,
    hub_kubeconfig: HubFile = None,
    timeout: Timeout = "15m",
) -> None:
    """Import the cluster into the ACM hub and wait until it is joined and available."""
    from proxshift.config.durations import parse_duration
    from proxshift.engine.acm_flow import acm_context, acm_import

    context: AppContext = ctx.obj
    project = context.project(only=[cluster])
    acm = acm_context(project, cluster, mode, hub_kubeconfig, context.ui.warning, connect=not dry_run)
    if acm.skipped:
        context.ui.info(f"ACM import skipped: {acm.skipped}")
        return
    assert acm.plan is not None  # noqa: S101 - set whenever not skipped
    if dry_run:
        _print_documents(context, acm.plan.redacted, f"apply on hub {acm.hub_name}")
        if mode == "manual":
            context.ui.info(f"then: the hub's {cluster}-import secret's CRDs and import.yaml are applied to {cluster}")
        context.ui.info("dry run: nothing was changed")
        return
    context.ui.info(f"importing {cluster} into ACM hub {acm.hub_name} ({mode} mode)")
    addons = acm_import(project, acm, mode, parse_duration(timeout), context.ui.info)
    context.ui.success(f"{cluster} is joined and available on hub {acm.hub_name}")
    if addons:
        context.ui.info("  add-ons: " + ", ".join(f"{name} {state}" for name, state in sorted(addons.items())))


def acm_detach(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name.", autocompletion=complete_cluster)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be deleted; change nothing.")] = False,
    hub_kubeconfig: HubFile = None,
    timeout: Timeout = "10m",
) -> None:
    """Delete the cluster's ManagedCluster from the hub and wait for its namespace to go."""
    from proxshift.config.durations import parse_duration
    from proxshift.engine.acm_flow import acm_context, acm_detach

    context: AppContext = ctx.obj
    project = context.project(only=[cluster])
    acm = acm_context(project, cluster, "manual", hub_kubeconfig, context.ui.warning, connect=not dry_run)
    if acm.skipped:
        context.ui.info(f"ACM detach skipped: {acm.skipped}")
        return
    if dry_run:
        context.ui.out.file.write(
            f"# delete on hub {acm.hub_name}\nManagedCluster {cluster} (its namespace {cluster} goes with it)\n"
        )
        context.ui.info("dry run: nothing was changed")
        return
    acm_detach(acm, parse_duration(timeout), context.ui.info)
    context.ui.success(f"{cluster} is detached from hub {acm.hub_name}")
