"""A VM command's outcome: one result per VM (or ISO), the work run in parallel, no failure lost."""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from proxshift.engine.vmspec import VmPlan
from proxshift.errors import OperationError, ProxshiftError

PARALLEL = 8  # VMs worked on at once (docs/proxmox.md)
T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[str, str], None]  # (host, message)


def quiet(host: str, message: str) -> None:
    del host, message


@dataclass
class VmResult:
    host: str
    vmid: int
    node: str
    action: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0


@dataclass
class VmRun:
    """A VM command's plan and, unless it was a dry run, each VM's outcome."""

    plans: list[VmPlan]
    results: list[VmResult] = field(default_factory=list)
    intent: str | None = None  # what a dry run would do to each VM (create runs show each plan's own action)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(not r.ok for r in self.results)

    def failure(self, again: str) -> OperationError | None:
        """The one error a run with a failed VM ends with: each failure, and what to do (`again`: how to go on)."""
        failed = [r for r in self.results if not r.ok]
        if not failed:
            return None
        what = "; ".join(f"{r.action} {r.host} (vmid {r.vmid} on {r.node}): {r.detail}" for r in failed)
        hints = []
        for r in failed:
            lock = _LOCKED.search(r.detail)
            if lock:  # PVE's config lock: a backup, migration, snapshot ... holds the VM
                hints.append(
                    f"VM {r.vmid} is locked ({lock[1]}) on {r.node}: wait for the {lock[1]} to end, or, if none "
                    f"runs, 'qm unlock {r.vmid}' on {r.node}"
                )
        hint = "; ".join([*hints, again]) if hints else f"see the table above; {again}"
        return OperationError(f"{len(failed)} of {len(self.results)} failed: {what}", hint)


_LOCKED = re.compile(r"\bis locked \(([\w-]+)\)")


def timed(host: str, vmid: int, node: str, action: str, work: Callable[[], str | None]) -> VmResult:
    """Run one piece of work; its error becomes a failed result with the error's message."""
    start = time.monotonic()
    try:
        detail = work() or "done"
        return VmResult(host, vmid, node, action, True, detail, time.monotonic() - start)
    except ProxshiftError as exc:
        return VmResult(host, vmid, node, action, False, exc.message, time.monotonic() - start)


def in_parallel(items: list[T], work: Callable[[T], R], at_once: int = PARALLEL) -> list[R]:
    """`work` on every item, `at_once` at a time (PARALLEL: VMs), answers in the items' order."""
    if not items:
        return []
    # Each item runs in a copy of the caller's context: the audit trail (engine/audit.py) follows the work.
    contexts = [contextvars.copy_context() for _ in items]
    with ThreadPoolExecutor(max_workers=max(1, min(at_once, len(items)))) as pool:
        return list(pool.map(lambda context, item: context.run(work, item), contexts, items))
