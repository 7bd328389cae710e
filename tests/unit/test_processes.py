"""pid_alive: one answer for every caller, EPERM included."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from proxshift.processes import ChildTimedOut, pid_alive, run_streaming


def test_this_process_is_alive() -> None:
    assert pid_alive(os.getpid())


def test_a_reaped_child_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)


@pytest.mark.parametrize("pid", [None, 0, -1])
def test_no_pid_is_not_alive(pid: int | None) -> None:
    assert not pid_alive(pid)  # os.kill(0 or -1, 0) would signal a whole process group


def test_someone_elses_process_is_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(pid: int, signal: int) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "kill", denied)
    assert pid_alive(4242)


# -- run_streaming: a child in its own group, its lines as they come, stopped and reaped whatever happens --


def _running(pid: int) -> bool:
    """Alive and not a zombie (in a container nobody may reap an orphan's zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _stopped(pid: int) -> bool:
    """Not running within a moment: a SIGKILLed process dies when the kernel next schedules it."""
    deadline = time.monotonic() + 5
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not _running(pid)


def _sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def test_lines_arrive_while_the_child_runs() -> None:
    seen: list[tuple[str, float]] = []
    began = time.monotonic()
    code = run_streaming(
        _sh("echo first; sleep 0.5; printf 'second\\nno newline'; exit 3"),
        lambda line: seen.append((line, time.monotonic() - began)),
        10,
    )
    assert code == 3
    assert [line for line, _ in seen] == ["first", "second", "no newline"]
    assert seen[1][1] - seen[0][1] > 0.25  # streamed as they came (0.5 s apart), not read together at the end


def test_the_timeout_stops_and_reaps_the_whole_group() -> None:
    lines: list[str] = []
    began = time.monotonic()
    with pytest.raises(ChildTimedOut):
        run_streaming(_sh("sleep 600 & echo $!; echo $$; wait"), lines.append, timeout=0.5, grace=2)
    assert time.monotonic() - began < 10  # not the child's 600 s (a loose bound: a loaded machine is slow)
    grandchild, leader = (int(pid) for pid in lines)
    assert _stopped(grandchild) and _stopped(leader)
    with pytest.raises(ChildProcessError):
        os.waitpid(leader, os.WNOHANG)  # reaped: no zombie of ours


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    lines: list[str] = []
    began = time.monotonic()
    with pytest.raises(ChildTimedOut):
        run_streaming(_sh("trap '' TERM; echo $$; sleep 600"), lines.append, timeout=0.3, grace=0.5)
    assert 0.7 < time.monotonic() - began < 10  # the grace waited, then killed; not the child's 600 s
    assert _stopped(int(lines[0]))


def test_an_interrupt_while_reading_stops_the_child() -> None:
    pids: list[int] = []

    def interrupt(line: str) -> None:
        pids.append(int(line))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_streaming(_sh("echo $$; sleep 600"), interrupt, 30)
    assert _stopped(pids[0])


def test_sigterm_to_proxshift_stops_the_child_first() -> None:
    lines: list[str] = []
    previous = signal.getsignal(signal.SIGTERM)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    with pytest.raises(KeyboardInterrupt):
        run_streaming(_sh("echo $$; sleep 600"), lines.append, 30)
    assert _stopped(int(lines[0]))
    assert signal.getsignal(signal.SIGTERM) == previous  # the handler was only there while the child ran


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_child_is_being_started_still_stops_it(
    monkeypatch: pytest.MonkeyPatch, signum: signal.Signals
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def popen_then_signal(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        process: subprocess.Popen[bytes] = popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(process)
        os.kill(os.getpid(), signum)  # lands before Popen has returned, as a late `kill` or Ctrl-C can
        time.sleep(0.1)  # the handler runs here, inside "Popen"
        return process

    monkeypatch.setattr(subprocess, "Popen", popen_then_signal)
    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run_streaming(_sh("sleep 600"), lambda line: None, 30)
    assert started and started[0].poll() is not None  # stopped and reaped, not left running
    assert signal.getsignal(signal.SIGINT) == previous
