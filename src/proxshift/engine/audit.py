"""The audit trail: `ocp_install/<cluster>/audit.jsonl`, 0600, append-only, one JSON line per act.

What is recorded: each Vault read or write (path, key names, version), Proxmox task (node, vmid,
action, task id, outcome), Kubernetes object applied, patched or deleted (which API, apiVersion,
kind, namespace/name), and hook run (argv, exit code); each with the time, proxshift's version and
the command. Never a value. The clients know nothing of it: their engine-side subclasses
(engine/audited.py) and the hook runner write here.

A trail is open while a command holds a cluster's lock (engine/lock.py), and while `health` runs;
elsewhere (a dry run, a library call) `record` does nothing. The trail and the command are context
variables, so each in-process run (the tests) and each worker thread given the context
(engine/vm_run.py) writes to its own cluster's file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from proxshift import __version__
from proxshift.config.install_dir import InstallDir
from proxshift.errors import OperationError

_COMMAND: ContextVar[str] = ContextVar("proxshift_command", default="proxshift")
_TRAIL: ContextVar[Path | None] = ContextVar("proxshift_audit_trail", default=None)


def set_command(argv: Sequence[str]) -> None:
    """What the lines of this run name as its command (the CLI sets it, in the run's own context)."""
    _COMMAND.set(shlex.join(["proxshift", *argv]))


@contextlib.contextmanager
def trail(install_dir: InstallDir) -> Iterator[None]:
    """Record into this cluster's trail until the block ends."""
    token = _TRAIL.set(install_dir.audit_log)
    try:
        yield
    finally:
        _TRAIL.reset(token)


def record(event: str, **fields: Any) -> None:
    """Append one line to the open trail (none open: nothing to do). `fields` name things, never values."""
    path = _TRAIL.get()
    if path is None:
        return
    common = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "proxshift_version": __version__,
        "command": _COMMAND.get(),
        "event": event,
    }
    line = {**common, **{k: v for k, v in fields.items() if k not in common}}
    data = (json.dumps(line, default=str) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)  # one write with O_APPEND: lines of parallel workers never interleave
        finally:
            os.close(fd)
    except OSError as exc:
        raise OperationError(
            f"cannot append to the audit trail {path}: {exc.strerror}", "check the disk and the directory's owner"
        ) from None
