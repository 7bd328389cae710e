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
import shlex
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from proxshift.engine.audit import record
from proxshift.errors import OperationError
from proxshift.processes import without_credentials
from proxshift.secret import Secret

TAIL_LINES = 10


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
    env = {k: v for k, v in without_credentials(inherited).items() if k != "KUBECONFIG"}
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
    """The kubeconfig in a 0600 temporary file for the hook's time, removed whatever happens; in this
    process's private scratch directory (as the kubernetes client's own copies), never in /tmp, so that
    even a kill -9 leaves it to be removed by the next run."""
    from proxshift.config.paths import cache_root
    from proxshift.files import scratch_dir

    if kubeconfig is None:
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="hook-kubeconfig-", dir=scratch_dir(cache_root() / "tmp"))  # 0600
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(kubeconfig.reveal())
        yield path
    finally:
        path.unlink(missing_ok=True)


def run_hook(hook: Hook, env: Mapping[str, str], on_line: Callable[[str], None]) -> float:
    """Run it in its own process group (processes.run_streaming); each output line to `on_line` as it comes.
    Its seconds; an OperationError (exit 1) when it cannot start, exits non-zero or outlives its timeout
    (then its whole group is stopped)."""
    from proxshift.processes import ChildTimedOut, run_streaming

    began = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)

    def line(text: str) -> None:
        tail.append(text)
        on_line(text)

    code: int | None = None
    try:
        # An argument list from the site config or the inventory: no shell.
        code = run_streaming(list(hook.argv), line, hook.timeout, cwd=hook.root, env=env)
    except ChildTimedOut:
        raise OperationError(
            f"hook {hook.when} {hook.phase} did not finish within {hook.timeout:g} s: {hook.shown}{_lines(tail)}",
            "make it finish sooner, or raise hook_timeout",
        ) from None
    except OSError as exc:
        raise OperationError(
            f"hook {hook.when} {hook.phase} cannot run {hook.argv[0]}: {exc.strerror}",
            f"hooks run without a shell, in {hook.root}; give the path of an executable file",
        ) from None
    finally:
        _record(hook, code, began)
    if code != 0:
        raise OperationError(
            f"hook {hook.when} {hook.phase} failed (exit {code}): {hook.shown}{_lines(tail)}",
            f"fix it, then run the phase again (--from {hook.phase})",
        )
    return time.monotonic() - began


def _lines(tail: deque[str]) -> str:
    return "".join(f"\n  {line}" for line in tail)


def _record(hook: Hook, code: int | None, began: float) -> None:
    seconds = round(time.monotonic() - began, 3)
    record("hook", phase=hook.phase, when=hook.when, argv=list(hook.argv), exit_code=code, seconds=seconds)
