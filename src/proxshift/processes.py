"""Processes proxshift starts or waits on."""

from __future__ import annotations

import errno
import os


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
