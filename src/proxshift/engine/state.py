"""ocp_install/<cluster>/state.json: each completed phase with a digest of its inputs."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.files import write_private

if TYPE_CHECKING:
    from proxshift.config.inventory import Cluster


def digest(*parts: Any) -> str:
    """A short, stable hash of JSON-able parts (what a phase's inputs digest is made of)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cluster_fingerprint(cluster: Cluster) -> str:
    """This cluster's inventory entry, as resolved (so inherited vars count too); what only matters after
    the install (labels, hooks, post_install) is left out, so changing it re-runs no install phase."""
    from proxshift.config.inventory import POST_INSTALL_CLUSTER_KEYS, POST_INSTALL_HOST_KEYS

    return digest(
        cluster.vars.model_dump(mode="json", exclude=set(POST_INSTALL_CLUSTER_KEYS)),
        [
            (n.name, n.role, str(n.ip), n.mac, n.spec.model_dump(mode="json", exclude=set(POST_INSTALL_HOST_KEYS)))
            for n in cluster.nodes
        ],
    )


class State:
    """The state file; one that cannot be read counts as empty (for now: a later change makes it an error)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}
        self.data.setdefault("phases", {})

    def done(self, phase: str, inputs: str) -> bool:
        entry = self.data["phases"].get(phase) or {}
        return entry.get("status") == "done" and entry.get("inputs") == inputs

    def ever_done(self, phase: str) -> bool:
        """Recorded done, whatever its inputs were then (the dry-run plan says so)."""
        return bool((self.data["phases"].get(phase) or {}).get("status") == "done")

    def record(self, phase: str, inputs: str, seconds: float, **extra: Any) -> None:
        self.data["phases"][phase] = {
            "status": "done",
            "inputs": inputs,
            "seconds": round(seconds, 3),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            **extra,
        }
        self.save()

    def save(self) -> None:
        write_private(self.path, json.dumps(self.data, indent=2))
