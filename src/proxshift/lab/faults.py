"""Faults the lab's Proxmox plays from the start: fakepve's own fault functions, as data.

`proxshift lab up --pve-fail ... --pve-storage-avail ... --pve-drop-rate ... --pve-node-offline ...`
and `Lab(faults=LabFaults(...))` both end in `LabFaults.apply(pve)`:

- `PveFailure`: `pve.fail(method, path, ...)`: requests whose path ends with `path` get a catalogued
  PVE error (`error=`, a name from `pve.errors_for(method, path)`) or a status and message; inside
  the task where PVE raises it there; `times` limits it to that many requests.
- `storage_avail`: bytes left on a storage (`pve.storages[name]["avail"]`): uploads and disks that
  do not fit fail as PVE's do.
- `drop_rate` / `hang_rate` / `hang_secs` / `seed`: `pve.flaky_network`: a share of requests is
  dropped (connection reset) or hangs.
- `latency`: `pve.slow_network`, in PVE seconds (scaled by the lab's time scale).
- `offline_nodes`: `pve.set_node_offline`: requests for those nodes get 595.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

INSTALL_SECONDS = 20.0  # how long a simulated install takes once a cluster's VMs run
TIME_SCALE = 0.02  # fakepve's real seconds per PVE second
OPERATOR_SECONDS = 3.0  # an operator install, an Argo CD instance or sync, ESO's deployments in the clusters
JOIN_SECONDS = 6.0  # a host booted from an add-nodes ISO: boot to its first CSR, then Node to Ready in less
SIZE = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$")
UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
METHODS = ("GET", "POST", "PUT", "DELETE")


def parse_size(text: str) -> int:
    """`400G`, `1.5T`, `1000` (bytes); binary units."""
    match = SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size (a number of bytes, or with K, M, G or T)")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


@dataclass(frozen=True)
class PveFailure:
    """Requests `method` whose path ends with `path` fail, with a PVE error name or a status and message."""

    method: str
    path: str
    error: str | None = None
    status: int | None = None
    message: str | None = None
    times: int | None = None

    @classmethod
    def parse(cls, text: str) -> PveFailure:
        """`METHOD PATH [times=N] ERROR-NAME` or `METHOD PATH [times=N] STATUS MESSAGE...`."""
        words = text.split()
        usage = f"{text!r}: expected 'METHOD PATH [times=N] ERROR-NAME' or 'METHOD PATH [times=N] STATUS MESSAGE'"
        if len(words) < 3 or words[0].upper() not in METHODS or not words[1].startswith("/"):
            raise ValueError(usage)
        method, path, rest = words[0].upper(), words[1], words[2:]
        times = None
        if rest[0].startswith("times="):
            try:
                times = int(rest[0].removeprefix("times="))
            except ValueError:
                raise ValueError(usage) from None
            rest = rest[1:]
        if not rest:
            raise ValueError(usage)
        if rest[0].isdigit():
            if len(rest) < 2:
                raise ValueError(f"{text!r}: a status needs a message after it")
            return cls(method, path, status=int(rest[0]), message=" ".join(rest[1:]), times=times)
        if len(rest) > 1:
            raise ValueError(usage)
        return cls(method, path, error=rest[0], times=times)

    def check(self) -> None:
        """Refuse an error name fakepve does not know for this request, naming the ones it knows."""
        if (self.error is None) == (self.status is None):
            raise ValueError(f"{self.method} {self.path}: give either an error name or a status and message")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"{self.method} {self.path}: status {self.status} is not an HTTP error status")
        if self.times is not None and self.times < 1:
            raise ValueError(f"{self.method} {self.path}: times must be at least 1")
        if self.error is not None:
            from fakepve import errors

            known = errors.listing(self.method, self.path)
            if not known:
                raise ValueError(
                    f"{self.method} {self.path}: fakepve knows no PVE errors here; give a status and message"
                )
            if errors.find(self.method, self.path, self.error) is None:
                names = ", ".join(e["name"] for e in known)
                raise ValueError(f"{self.method} {self.path}: no PVE error {self.error!r}; known: {names}")

    def __str__(self) -> str:
        times = f" times={self.times}" if self.times else ""
        what = self.error if self.error else f"{self.status} {self.message}"
        return f"{self.method} {self.path}{times} {what}"


@dataclass(frozen=True)
class LabFaults:
    pve_failures: tuple[PveFailure, ...] = ()
    storage_avail: dict[str, int] = field(default_factory=dict)
    drop_rate: float = 0.0
    hang_rate: float = 0.0
    hang_secs: float = 120.0
    latency: float = 0.0
    offline_nodes: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def any(self) -> bool:
        return self != LabFaults()

    def check(self, nodes: set[str] | None = None, storages: set[str] | None = None) -> None:
        """Raise ValueError on anything fakepve would refuse, or a node or storage the lab will not have."""
        for failure in self.pve_failures:
            failure.check()
        for name, rate in (("drop rate", self.drop_rate), ("hang rate", self.hang_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"the {name} must be between 0 and 1, not {rate}")
        if self.hang_secs < 0 or self.latency < 0:
            raise ValueError("hang seconds and latency cannot be negative")
        for storage, avail in self.storage_avail.items():
            if avail < 0:
                raise ValueError(f"storage {storage}: available space cannot be negative")
            if storages is not None and storage not in storages:
                raise ValueError(f"storage {storage} is not in the lab; it has {', '.join(sorted(storages))}")
        for node in self.offline_nodes:
            if nodes is not None and node not in nodes:
                raise ValueError(f"node {node} is not in the lab; it has {', '.join(sorted(nodes))}")

    def apply(self, pve: Any) -> None:
        """Play these faults on a FakePve (at start, or later on a running lab)."""
        self.check(set(pve.nodes), set(pve.storages))
        for failure in self.pve_failures:
            if failure.error is not None:
                pve.fail(failure.method, failure.path, error=failure.error, times=failure.times)
            else:
                pve.fail(failure.method, failure.path, failure.status, failure.message, times=failure.times)
        for storage, avail in self.storage_avail.items():
            pve.storages[storage]["avail"] = avail
        if self.drop_rate or self.hang_rate:
            pve.flaky_network(
                drop_rate=self.drop_rate, hang_rate=self.hang_rate, hang_secs=self.hang_secs, seed=self.seed
            )
            if self.seed is not None and hasattr(pve, "_random"):
                pve._random.seed(self.seed)  # fakepve seeds only when it starts serving
        if self.latency:
            pve.slow_network(self.latency)
        for node in self.offline_nodes:
            pve.set_node_offline(node)

    def describe(self) -> list[str]:
        """One line per fault, for `lab up` and `lab status`."""
        lines = [f"request fails: {failure}" for failure in self.pve_failures]
        lines += [f"storage {name}: {avail} bytes available" for name, avail in sorted(self.storage_avail.items())]
        if self.drop_rate or self.hang_rate:
            lines.append(
                f"flaky network: drops {self.drop_rate:.0%}, hangs {self.hang_rate:.0%} for {self.hang_secs:g} s"
            )
        if self.latency:
            lines.append(f"slow network: {self.latency:g} PVE s per request")
        lines += [f"node {node} offline" for node in self.offline_nodes]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabFaults:
        return cls(
            pve_failures=tuple(PveFailure(**item) for item in data.get("pve_failures", ())),
            storage_avail={str(k): int(v) for k, v in (data.get("storage_avail") or {}).items()},
            drop_rate=float(data.get("drop_rate", 0.0)),
            hang_rate=float(data.get("hang_rate", 0.0)),
            hang_secs=float(data.get("hang_secs", 120.0)),
            latency=float(data.get("latency", 0.0)),
            offline_nodes=tuple(data.get("offline_nodes", ())),
            seed=data.get("seed"),
        )
