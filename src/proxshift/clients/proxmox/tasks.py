"""PVE tasks (UPIDs): wait for one to stop, and say why it failed from its log."""

from __future__ import annotations

from typing import Any

from proxshift.clients.proxmox.connection import Connection
from proxshift.clients.transport import Poller
from proxshift.errors import OperationError


def parse_upid(upid: str) -> str:
    """The node a task runs on: its status must be read there."""
    parts = upid.split(":")
    if len(parts) < 3 or parts[0] != "UPID":
        raise OperationError(f"Proxmox answered '{upid}' where a task ID (UPID) was expected", "check the PVE version")
    return parts[1]


class Tasks:
    def __init__(self, connection: Connection, poll_interval: float = 0.5, timeout: float = 900.0) -> None:
        self.connection = connection
        self.poll_interval = poll_interval
        self.timeout = timeout

    def wait(self, upid: str, doing: str) -> None:
        """Until the task stops; an OperationError naming the task log's error when it did not end OK."""
        node = parse_upid(upid)
        api = self.connection.api

        def stopped() -> dict[str, Any] | None:
            with self.connection.errors(f"waiting for {doing}"):
                status = api.nodes(node).tasks(upid).status.get()
            return dict(status) if status.get("status") == "stopped" else None

        # Most tasks end within a few hundred ms: poll fast first, then back off to poll_interval.
        status = Poller(self.timeout, cap=self.poll_interval).until(stopped)
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
