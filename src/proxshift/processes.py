"""Processes proxshift starts or waits on."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this PID exists (a zombie counts until reaped).

    EPERM means it exists but belongs to someone else: alive. Whether it is still the process that
    was meant (PIDs are reused) is a different question that a PID alone cannot answer.
    """
    if not pid or pid < 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


STOP_GRACE = 10.0  # seconds a stopped child gets to exit on SIGTERM before SIGKILL
CREDENTIAL_PREFIXES = ("VAULT_", "PROXSHIFT_")  # the Vault token, the Proxmox token and password


def without_credentials(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that must not get proxshift's own credentials: no VAULT_*, no PROXSHIFT_*."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if not k.startswith(CREDENTIAL_PREFIXES)}


class ChildTimedOut(Exception):
    """The child ran past its timeout; it was stopped and reaped."""


def run_streaming(
    argv: list[str],
    on_line: Callable[[str], None],
    timeout: float,
    grace: float = STOP_GRACE,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run a child in its own process group (in `cwd`, with `env`: default, proxshift's own) and hand over
    each line of its output (stdout and stderr) as it comes; its exit code.

    Its own group keeps a terminal's Ctrl-C from reaching it behind proxshift's back; instead, whatever
    ends the wait here (the `timeout`, raising ChildTimedOut; Ctrl-C; SIGTERM, turned into Ctrl-C while
    the child runs; an exception in `on_line`) stops the whole group (SIGTERM, SIGKILL after `grace`)
    and reaps it before going on: no child outlives proxshift, none is left a zombie.
    """
    deadline = time.monotonic() + timeout
    with _sigterm_as_interrupt() as interrupts, interrupts.held():
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            env=None if env is None else dict(env),
        )
        try:
            interrupts.release()  # one that came while Popen ran is raised here, where the child is stopped
            assert process.stdout is not None  # noqa: S101 - Popen with stdout=PIPE always has it
            _stream(process.stdout.fileno(), on_line, deadline)
            try:
                return process.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                raise ChildTimedOut from None
        except BaseException:
            stop_group(process, grace)
            raise
        finally:
            if process.stdout is not None:
                process.stdout.close()


def _stream(fd: int, on_line: Callable[[str], None], deadline: float) -> None:
    """Lines from the pipe until its end; ChildTimedOut when the deadline passes first."""
    import selectors

    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChildTimedOut
            if not selector.select(min(remaining, 1.0)):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                on_line(line.decode(errors="replace").rstrip("\r"))
    if pending:
        on_line(pending.decode(errors="replace").rstrip("\r"))


def stop_group(process: subprocess.Popen[Any], grace: float = STOP_GRACE) -> None:
    """SIGTERM to the child's group, SIGKILL to what is left after `grace` (at once on a second Ctrl-C), reap.

    The leader is waited for without being reaped (WNOWAIT), so its PID, which names the group, cannot
    be reused by another process before the group's last member is killed.
    """
    _signal_group(process.pid, signal.SIGTERM)
    try:
        _exited(process.pid, grace)
    finally:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _exited(pid: int, within: float) -> bool:
    """Whether the child exited within `within` seconds; it stays a zombie (reaped by the caller)."""
    deadline = time.monotonic() + within
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def ignore_sigint() -> Callable[[], object]:
    """Ignore Ctrl-C from now on: for a run that is ending already, a second one (pressed twice, or the one
    `timeout --foreground` passes on a moment after the terminal's) would cut its ending short. One that
    was pending is dropped too (signal.signal itself raises it: tried again). Returns what puts the
    previous handler back (nothing to do off the main thread, where signals are not handled anyway)."""
    previous: Any = None
    while True:
        try:
            if previous is None:
                previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except KeyboardInterrupt:
            continue
        except ValueError:
            return lambda: None
        break
    return functools.partial(signal.signal, signal.SIGINT, previous)


class _Interrupts:
    """SIGTERM and Ctrl-C as KeyboardInterrupt; held while a child is being started.

    One arriving inside Popen (after the fork, before it returns) would leave a running child nobody
    stops: held, it is raised by `release`, once the child can be stopped.
    """

    def __init__(self) -> None:
        self.holding = False
        self.pending = False

    def handler(self, signum: int, frame: object) -> None:
        if self.holding:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        self._raise_pending()  # not reached when Popen failed: its own error says more

    def release(self) -> None:
        self.holding = False
        self._raise_pending()

    def _raise_pending(self) -> None:
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[_Interrupts]:
    """SIGTERM raises KeyboardInterrupt while a child runs, so that it is stopped before proxshift exits;
    Ctrl-C does so already, and is held with it while a child is being started."""
    interrupts = _Interrupts()
    try:
        previous = signal.signal(signal.SIGTERM, interrupts.handler)
    except ValueError:  # not the main thread: signals go to the main thread anyway
        yield interrupts
        return
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler or isinstance(getattr(previous_int, "__self__", None), _Interrupts):
        # Python's own or an outer run's; never one a caller set, nor SIG_IGN
        signal.signal(signal.SIGINT, interrupts.handler)
    try:
        yield interrupts
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
