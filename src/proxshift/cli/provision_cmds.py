"""`provision`: the whole flow, live or as JSON events; `--dry-run` prints the plan."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from proxshift.cli.context import AppContext

SYMBOL = {"done": "✓", "running": "▶", "skipped": "↷", "failed": "✗", "interrupted": "■"}


def provision(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name from the inventory.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the whole plan; change nothing anywhere.")] = False,
    force: Annotated[bool, typer.Option(help="Recreate drifted VMs; tear down and rebuild a live cluster.")] = False,
    start_from: Annotated[str | None, typer.Option("--from", help="Start at this phase.")] = None,
    only: Annotated[str | None, typer.Option(help="Run only this phase.")] = None,
    skip: Annotated[list[str] | None, typer.Option(help="Skip this phase (repeatable), e.g. --skip acm.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line instead of the live view.")] = False,
    timeout: Annotated[str, typer.Option(help="Install wait limit (e.g. 120m).")] = "120m",
    poll_interval: Annotated[float, typer.Option(help="Seconds between install polls.")] = 5.0,
    acm_mode: Annotated[str, typer.Option(help="ACM import mode: auto or manual.")] = "auto",
) -> None:
    """Provision a cluster end to end: every phase from preflight to the ACM import."""
    from proxshift.config.durations import parse_duration
    from proxshift.engine.provision import Options, Provision, dry_run_plan

    context: AppContext = ctx.obj
    options = Options(
        force=force,
        start_from=start_from,
        only=only,
        skip=tuple(skip or ()),
        wait_timeout=parse_duration(timeout),
        wait_poll=poll_interval,
        acm_mode=acm_mode,
    )
    project = context.project(only=[cluster], quiet=as_json)
    ui = context.ui
    if dry_run:
        steps = dry_run_plan(project, cluster, options, ui.warning)
        if as_json:
            ui.json(steps)
        else:
            _print_plan(context, steps)
        ui.info("dry run: nothing was changed anywhere")
        return
    started = time.monotonic()
    emit = _json_emitter() if as_json else _live_emitter(context)
    summary = Provision(project, cluster, options, emit).run()
    if as_json:
        emit(
            {
                "event": "summary",
                "cluster": cluster,
                "console": summary.console_url,
                "api": summary.api_url,
                "credentials": summary.credentials,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
        return
    ui.success(f"{cluster} provisioned in {(time.monotonic() - started) / 60:.1f} min")
    ui.info(f"  console:     {summary.console_url or '(see proxshift credentials)'}")
    ui.info(f"  API:         {summary.api_url or '-'}")
    ui.info(f"  credentials: Vault {summary.credentials} (proxshift credentials {cluster})")


def _json_emitter() -> Callable[[dict[str, Any]], None]:
    def emit(event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps({"time": round(time.time(), 3), **event}) + "\n")
        sys.stdout.flush()

    return emit


def _live_emitter(context: AppContext) -> Callable[[dict[str, Any]], None]:
    ui = context.ui

    def emit(event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "phase":
            status = event["status"]
            seconds = f" ({event['seconds']:.1f} s)" if "seconds" in event else ""
            reason = f": {event['reason']}" if event.get("reason") else ""
            ui.info(f"{SYMBOL.get(status, '-')} {event['phase']:<12} {status}{seconds}{reason}")
        elif kind == "log":
            ui.info(f"    {event['message']}")
        elif kind == "warning":
            ui.warning(event["message"])
        elif kind == "progress":
            percent = event["bytes"] * 100 // max(event["total"], 1)
            ui.info(f"    {event['target']}: {percent}% of {event['total'] / 2**20:.1f} MiB")

    return emit


def _print_plan(context: AppContext, steps: list[dict[str, Any]]) -> None:
    out = context.ui.out.file
    for step in steps:
        done = " (done before)" if step.pop("previously_done") else ""
        out.write(f"== {step.pop('phase')}{done}\n")
        for key, value in step.items():
            if key == "manifests":
                for name, text in value.items():
                    out.write(f"  {name}:\n" + "".join(f"    {line}\n" for line in text.splitlines()))
            elif key == "vms":
                for vm in value:
                    if isinstance(vm, str):
                        out.write(f"  start {vm}\n")
                        continue
                    out.write(
                        f"  {vm['action']:<10} {vm['host']} (vmid {vm['vmid']} on {vm['node']}): {vm['reason']}\n"
                    )
                    for difference in vm["drift"]:
                        out.write(f"             {difference}\n")
                    if vm["action"] in ("create", "recreate"):
                        out.write("".join(f"             {k}={v}\n" for k, v in vm["params"].items()))
            elif key == "documents":
                import yaml

                for document in value:
                    out.write(
                        "  ---\n"
                        + "".join(f"  {line}\n" for line in yaml.safe_dump(document, sort_keys=False).splitlines())
                    )
            elif isinstance(value, list):
                out.write(f"  {key}:\n" + "".join(f"    - {item}\n" for item in value))
            else:
                out.write(f"  {key}: {value}\n")
