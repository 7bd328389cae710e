"""Hooks: argument lists the site config or the inventory runs before or after a phase, without a shell.

Each runs in the root with the environment proxshift was started with minus every `VAULT_*` and
`PROXSHIFT_*` variable (no Vault token, no Proxmox credentials) and minus `KUBECONFIG`, plus
PROXSHIFT_CLUSTER, PROXSHIFT_PHASE, PROXSHIFT_HOOK (before/after), PROXSHIFT_ROOT,
PROXSHIFT_INSTALL_DIR and, once the cluster is up, KUBECONFIG (a 0600 temporary file, removed
afterwards) and PROXSHIFT_API_URL. Its output is reported line by line as it comes; a non-zero exit or
the timeout fails the phase with the last lines.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from proxshift.engine.audit import record
from proxshift.errors import OperationError
from proxshift.secret import Secret

SCRUBBED_PREFIXES = ("VAULT_", "PROXSHIFT_")
TAIL_LINES = 10
KILL_GRACE = 5.0


@dataclass(frozen=True)
class Hook:
    """One hook as it will run: its arguments filled in, where, with what."""

    phase: str
    when: str  # before, after
    argv: tuple[str, ...]
    root: Path
    install_dir: Path
    cluster: str
    timeout: float

    @property
    def shown(self) -> str:
        return shlex.join(self.argv)


def hook_environment(
    hook: Hook, kubeconfig: Path | None, api_url: str | None, inherited: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What the hook's process gets: never a Vault token, never proxshift's own credentials."""
    source = os.environ if inherited is None else inherited
    env = {k: v for k, v in source.items() if not k.startswith(SCRUBBED_PREFIXES) and k != "KUBECONFIG"}
    env.update(
        PROXSHIFT_CLUSTER=hook.cluster,
        PROXSHIFT_PHASE=hook.phase,
        PROXSHIFT_HOOK=hook.when,
        PROXSHIFT_ROOT=str(hook.root),
        PROXSHIFT_INSTALL_DIR=str(hook.install_dir),
    )
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    if api_url:
        env["PROXSHIFT_API_URL"] = api_url
    return env


@contextlib.contextmanager
def private_kubeconfig(kubeconfig: Secret | None) -> Iterator[Path | None]:
    """The kubeconfig in a 0600 temporary file for the hook's time; removed whatever happens."""
    if kubeconfig is None:
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="proxshift-kubeconfig-")  # mkstemp creates it 0600
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(kubeconfig.reveal())
        yield path
    finally:
        path.unlink(missing_ok=True)


def run_hook(hook: Hook, env: Mapping[str, str], on_line: Callable[[str], None]) -> float:
    """Run it; each output line to `on_line` as it comes (on this thread). Returns its seconds; raises an
    OperationError (exit 1) when it cannot start, exits non-zero or outlives its timeout."""
    began = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        process = subprocess.Popen(  # an argument list from the site config or inventory: no shell
            list(hook.argv),
            cwd=hook.root,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: a timeout ends its children too
        )
    except OSError as exc:
        _record(hook, None, began)
        raise OperationError(
            f"hook {hook.when} {hook.phase} cannot run {hook.argv[0]}: {exc.strerror}",
            f"hooks run without a shell, in {hook.root}; give the path of an executable file",
        ) from None
    code: int | None = None

    def line(text: str) -> None:
        tail.append(text)
        on_line(text)

    try:
        code = _follow(process, hook.timeout, line)
    finally:
        if process.poll() is None:  # timed out or interrupted: end it and its children
            _end(process)
        _record(hook, code, began)
    seconds = time.monotonic() - began
    last = "".join(f"\n  {line}" for line in tail)
    if code is None:
        raise OperationError(
            f"hook {hook.when} {hook.phase} did not finish within {hook.timeout:g} s: {hook.shown}{last}",
            "make it finish sooner, or raise hook_timeout",
        )
    if code != 0:
        raise OperationError(
            f"hook {hook.when} {hook.phase} failed (exit {code}): {hook.shown}{last}",
            f"fix it, then run the phase again (--from {hook.phase})",
        )
    return seconds


def _follow(process: subprocess.Popen[str], timeout: float, on_line: Callable[[str], None]) -> int | None:
    """Its lines until it ends (its exit code) or the time is up (None)."""
    lines: queue.Queue[str | None] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None  # noqa: S101 - Popen with stdout=PIPE always has it

    def read() -> None:
        for line in stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, name="hook-output", daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            return None
        if line is None:
            break
        on_line(line)
    try:
        return process.wait(max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return None


def _end(process: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)  # the group the hook leads (start_new_session)
        try:
            process.wait(KILL_GRACE)
            return
        except subprocess.TimeoutExpired:
            continue


def _record(hook: Hook, code: int | None, began: float) -> None:
    seconds = round(time.monotonic() - began, 3)
    record("hook", phase=hook.phase, when=hook.when, argv=list(hook.argv), exit_code=code, seconds=seconds)
