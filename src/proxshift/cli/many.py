"""Commands over several clusters at once (`start`, `stop`, `status`): each cluster's work in a thread, at most N
at a time; the outcomes in the order the clusters were given; the exit code the worst of them.

Threads suffice here, unlike `provision` (engine/fleet.py): these are short Proxmox calls whose results are
printed at the end; a Ctrl-C starts no further cluster and lets the calls in flight finish (a VM start or
stop is idempotent, and is checked again by the next run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

import typer

from proxshift.errors import ProxshiftError

T = TypeVar("T")

Parallel = Annotated[int, typer.Option(min=1, help="With several clusters: how many are worked on at once.")]


def for_each(names: Sequence[str], parallel: int, work: Callable[[str], T]) -> list[tuple[str, T | ProxshiftError]]:
    """`work(cluster)` for every cluster; a cluster's ProxshiftError is its outcome, not the end of the others."""

    def guarded(name: str) -> T | ProxshiftError:
        try:
            return work(name)
        except ProxshiftError as exc:
            return exc

    if len(names) == 1:
        return [(names[0], guarded(names[0]))]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=max(1, min(parallel, len(names))))
    try:
        futures = [(name, pool.submit(guarded, name)) for name in names]
        return [(name, future.result()) for name, future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
