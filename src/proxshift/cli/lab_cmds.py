"""`lab up | down | status | env`: the simulated Proxmox, Vault and OpenShift on loopback."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import typer

from proxshift.cli.context import AppContext
from proxshift.errors import OperationError

UP_TIMEOUT = 90


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


def lab_up(ctx: typer.Context) -> None:
    """Start the stand-ins in the background; write .lab/site-config.yaml and .lab/env."""
    import subprocess
    import sys

    context: AppContext = ctx.obj
    paths = context.paths
    directory = paths.root / ".lab"
    state = _state(directory)
    if state and _alive(state.get("pid")):
        context.ui.info(f"the lab is already up (PID {state['pid']}); 'proxshift lab status' shows it")
        return
    context.project(quiet=True)  # the lab is sized from the inventory: check it first
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    (directory / "state.json").unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "proxshift.lab.daemon",
        "--root",
        str(paths.root),
        "--inventory",
        str(paths.inventory),
    ]
    if paths.config:
        command += ["--config", str(paths.config)]
    env = {k: v for k, v in os.environ.items() if k not in ("PROXSHIFT_CONFIG",)}
    with os.fdopen(os.open(directory / "lab.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env
        )
    deadline = time.monotonic() + UP_TIMEOUT
    while not (_state(directory) or {}).get("ready"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise OperationError("the lab did not start", f"see {directory / 'lab.log'}")
        time.sleep(0.1)
    state = _state(directory) or {}
    context.ui.success(f"lab up (PID {state['pid']}): it SIMULATES Proxmox, Vault and OpenShift")
    for name, url in state["services"].items():
        context.ui.info(f"  {name:<42} {url}")
    context.ui.info(f'next: . {paths.shown(directory / "env")}  (or: eval "$(proxshift lab env)")')


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


def lab_status(ctx: typer.Context) -> None:
    """Each stand-in's address and whether it answers."""
    context: AppContext = ctx.obj
    state = _state(context.paths.root / ".lab")
    if not state or not _alive(state.get("pid")):
        context.ui.info("the lab is not up ('proxshift lab up' starts it)")
        raise typer.Exit(1)
    context.ui.table(
        None,
        ("STAND-IN", "ADDRESS", "HEALTH"),
        [(name, url, "ok" if _answers(url) else "NOT ANSWERING") for name, url in state["services"].items()],
    )


def lab_env(ctx: typer.Context) -> None:
    """Print the lab's export lines, for eval."""
    context: AppContext = ctx.obj
    env_file = context.paths.root / ".lab" / "env"
    if not env_file.is_file():
        raise OperationError("the lab is not up", "run 'proxshift lab up' first")
    context.ui.out.file.write(env_file.read_text())
