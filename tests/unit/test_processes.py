"""pid_alive: one answer for every caller, EPERM included."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from proxshift.processes import pid_alive


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
