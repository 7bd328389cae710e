"""PVE tasks (UPIDs): wait for one to stop, and say why it failed from its log."""

from __future__ import annotations

import threading
import time
from typing import Any

from proxshift.clients.proxmox.connection import Connection
from proxshift.clients.transport import Poller
from proxshift.errors import OperationError

GOLDEN = (5**0.5 - 1) / 2  # steps of it spread any number of waits evenly over a poll interval


def parse_upid(upid: str) -> str:
    """The node a task runs on: its status must be read there."""
    parts = upid.split(":")
    if len(parts) < 3 or parts[0] != "UPID":
        raise OperationError(f"Proxmox answered '{upid}' where a task ID (UPID) was expected", "check the PVE version")
    return parts[1]


def offset(place: int, interval: float) -> float:
    """How much later than the first one the wait at `place` among those in flight polls, once it polls
    every `interval`: 0 for the first (a task waited for alone polls as it always did), the others spread
    over the interval, however many there are."""
    return interval * ((place * GOLDEN) % 1)


class Waits:
    """The tasks one client is waiting for at once. Tasks started together (a cluster's VMs) usually end
    together: polled in step, each end is seen up to a whole interval late. So the waits poll at spread
    moments, and the first end seen wakes each of the others once, to poll at that moment."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting = 0
        self._ends = 0

    def enter(self) -> tuple[int, int]:
        """(this wait's place among those in flight, the ends seen so far)."""
        with self._changed:
            self._waiting += 1
            return self._waiting - 1, self._ends

    def leave(self, ended: bool) -> None:
        with self._changed:
            self._waiting -= 1
            if ended:
                self._ends += 1
                self._changed.notify_all()

    def sleep(self, seconds: float, seen: int) -> bool:
        """Sleep `seconds`, or less when a task ends (or ended) after `seen` ends; True when woken so."""
        with self._changed:
            return self._changed.wait_for(lambda: self._ends != seen, timeout=seconds)


class Tasks:
    def __init__(self, connection: Connection, poll_interval: float = 0.5, timeout: float = 900.0) -> None:
        self.connection = connection
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.waits = Waits()

    def wait(self, upid: str, doing: str) -> None:
        """Until the task stops; an OperationError naming the task log's error when it did not end OK."""
        node = parse_upid(upid)
        api = self.connection.api
        place, seen = self.waits.enter()
        spread = woken = False

        def stopped() -> dict[str, Any] | None:
            with self.connection.errors(f"waiting for {doing}"):
                status = api.nodes(node).tasks(upid).status.get()
            return dict(status) if status.get("status") == "stopped" else None

        def pause(seconds: float) -> None:
            nonlocal spread, woken
            if seconds >= self.poll_interval and not spread:  # the first pause at full interval
                spread = True
                seconds += offset(place, self.poll_interval)
            if woken:
                time.sleep(seconds)
            else:
                woken = self.waits.sleep(seconds, seen)

        # Most tasks end within a few hundred ms: poll fast first, then back off to poll_interval.
        status = None
        try:
            status = Poller(self.timeout, cap=self.poll_interval, sleep=pause).until(stopped)
        finally:
            self.waits.leave(ended=status is not None)
        if status is None:
            raise OperationError(f"{doing} did not finish within {self.timeout:.0f} s", "see the task in Proxmox")
        if status.get("exitstatus") != "OK":
            raise OperationError(f"{doing} failed: {self._tail(node, upid, status)}", "see the task log in Proxmox")

    def _tail(self, node: str, upid: str, status: dict[str, Any]) -> str:
        try:
            log = self.connection.api.nodes(node).tasks(upid).log.get(limit=50)
            lines = [str(row.get("t", "")) for row in log if row.get("t") and row.get("t") != "TASK OK"]
        except Exception:  # the log only adds detail; the task's own exit status is the answer
            lines = []
        tail = [line for line in lines if line.startswith("TASK ERROR")] or lines[-2:]
        return " / ".join(tail) or str(status.get("exitstatus", "unknown error"))
