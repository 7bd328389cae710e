"""The audit trail: `ocp_install/<cluster>/audit.jsonl`, 0600, append-only, one JSON line per act.

What is recorded: each Vault read or write (path, key names, version), Proxmox task (node, vmid,
action, task id, outcome), Kubernetes object applied, patched or deleted (which API, apiVersion,
kind, namespace/name), and hook run (argv, exit code); each with the time, proxshift's version and
the command. Never a value. The clients know nothing of it: their engine-side subclasses
(engine/audited.py, audited_kube.py, audited_proxmox.py) and the hook runner write here.

A trail is open while a command holds a cluster's lock (engine/lock.py), and while `health` runs;
elsewhere (a dry run, a library call) `record` does nothing. Reads are written with the first change
that follows them, or when the command ends: a command refused with exit 2 ("nothing was changed")
writes nothing, as a dry run. The trail and the command are context variables, so each in-process
run (the tests) and each worker thread given the context (engine/vm_run.py) writes to its own
cluster's file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import threading
import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from proxshift import __version__
from proxshift.config.install_dir import InstallDir
from proxshift.errors import ExitCode, OperationError, ProxshiftError

_COMMAND: ContextVar[str] = ContextVar("proxshift_command", default="proxshift")
READS = frozenset({"vault.read"})  # what changes nothing: kept back until the command shows it did something


class _Trail:
    """One cluster's open trail. Reads wait in `pending` until the first change, or the end of the command:
    a command refused (exit 2, "nothing was changed") leaves no trace on disk, as every refusal."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending: list[bytes] = []
        self.guard = threading.Lock()  # the VM workers share it

    def add(self, line: bytes, read: bool) -> None:
        with self.guard:
            if read:
                self.pending.append(line)
                return
            lines, self.pending = [*self.pending, line], []
        self.write(b"".join(lines))

    def end(self, refused: bool) -> None:
        with self.guard:
            lines, self.pending = self.pending, []
        if lines and not refused:
            self.write(b"".join(lines))

    def write(self, data: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)  # one write with O_APPEND: lines of parallel workers never interleave
            finally:
                os.close(fd)
        except OSError as exc:
            raise OperationError(
                f"cannot append to the audit trail {self.path}: {exc.strerror}",
                "check the disk and the directory's owner",
            ) from None


_TRAIL: ContextVar[_Trail | None] = ContextVar("proxshift_audit_trail", default=None)


def set_command(argv: Sequence[str]) -> None:
    """What the lines of this run name as its command (the CLI sets it, in the run's own context)."""
    _COMMAND.set(shlex.join(["proxshift", *argv]))


@contextlib.contextmanager
def trail(install_dir: InstallDir) -> Iterator[None]:
    """Record into this cluster's trail until the block ends (nested in an open one: that one)."""
    if _TRAIL.get() is not None:
        yield
        return
    opened = _Trail(install_dir.audit_log)
    token = _TRAIL.set(opened)
    try:
        yield
    except BaseException as exc:
        _TRAIL.reset(token)
        refused = isinstance(exc, ProxshiftError) and exc.exit_code == ExitCode.BAD_INPUT
        try:
            opened.end(refused)
        except OperationError as lost:
            # The run's own error (or Ctrl-C) stays what is said: a full disk fails the phase first, then
            # the trail; the trail's failure is added to a proxshift error's hint.
            if isinstance(exc, ProxshiftError):
                exc.hint = "; ".join(filter(None, [exc.hint, f"and {lost.message}: its last lines are lost"]))
        raise
    _TRAIL.reset(token)
    opened.end(refused=False)


def record(event: str, **fields: Any) -> None:
    """One line for the open trail (none open: nothing to do). `fields` name things, never values."""
    opened = _TRAIL.get()
    if opened is None:
        return
    common = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "proxshift_version": __version__,
        "command": _COMMAND.get(),
        "event": event,
    }
    line = {**common, **{k: v for k, v in fields.items() if k not in common}}
    opened.add((json.dumps(line, default=str) + "\n").encode(), event in READS)
