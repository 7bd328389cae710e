"""ocp_install/<cluster>/state.json: each completed phase with a digest of its inputs."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.errors import UserInputError
from proxshift.files import MAKE_WRITABLE, write_or_fail

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
    """The state file. One that cannot be read, or is not the shape proxshift writes, is an error (exit 2)
    naming the file: treating it as empty would rebuild what exists (see docs/troubleshooting.md)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.found = path.exists() or path.is_symlink()  # False: no record at all (first run, or the file was lost)
        self.data: dict[str, Any] = _read(path) if self.found else {"phases": {}}

    def done(self, phase: str, inputs: str) -> bool:
        entry = self.data["phases"].get(phase) or {}
        return entry.get("status") == "done" and entry.get("inputs") == inputs

    def ever_done(self, phase: str) -> bool:
        """Recorded done, whatever its inputs were then (the dry-run plan says so)."""
        return bool((self.data["phases"].get(phase) or {}).get("status") == "done")

    def recorded(self, phase: str) -> bool:
        """Whether the file has any record of the phase (a missing one: never run here, or the file was lost)."""
        return phase in self.data["phases"]

    def changed(self, phase: str, parts: dict[str, Any]) -> list[str]:
        """The names of the inputs that differ from the phase's record (all of them for an older record)."""
        recorded = (self.data["phases"].get(phase) or {}).get("parts")
        if not isinstance(recorded, dict):
            return list(parts)
        return [name for name, value in parts.items() if recorded.get(name) != digest(value)]

    def record(
        self, phase: str, inputs: str, seconds: float, parts: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        entry: dict[str, Any] = {
            "status": "done",
            "inputs": inputs,
            "seconds": round(seconds, 3),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            **extra,
        }
        if parts is not None:
            entry["parts"] = {name: digest(value) for name, value in parts.items()}
        self.data["phases"][phase] = entry
        self.data.pop("deprovisioned", None)
        self.save()

    @property
    def deprovisioned(self) -> str | None:
        """When `deprovision --keep-files` took the cluster down (its VMs are gone; the files stay), or None."""
        value = self.data.get("deprovisioned")
        return str(value) if value else None

    def mark_deprovisioned(self) -> None:
        self.data["deprovisioned"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.save()

    def save(self) -> None:
        write_or_fail(
            self.path,
            json.dumps(self.data, indent=2),
            "the state file",
            f"{MAKE_WRITABLE} (state.json must be a file), then run again: what was done but not recorded is "
            "checked against what exists",
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _unusable(path, "it is not UTF-8 text (overwritten?)") from None
    except OSError as exc:
        raise _unusable(path, f"{exc.strerror or type(exc).__name__}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _unusable(path, f"it is not JSON ({exc}; truncated or overwritten?)") from None
    if not isinstance(data, dict):
        raise _unusable(path, f"it holds a JSON {_kind(data)}, not the object proxshift writes")
    phases = data.setdefault("phases", {})
    if not isinstance(phases, dict):
        raise _unusable(path, f"'phases' is a JSON {_kind(phases)}, not an object of phase records")
    for name, entry in phases.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), str):
            raise _unusable(
                path, f"the record of phase '{name}' is {json.dumps(entry)[:60]}, not an object with a status"
            )
    return data


def _unusable(path: Path, why: str) -> UserInputError:
    return UserInputError(
        f"cannot use the state file {path}: {why}",
        f"nothing was changed; move it aside (mv {path} {path}.bad) and run again: without it, proxshift checks "
        "what exists (VMs, the ISO, the installer's outputs) instead of trusting its records",
    )


def _kind(value: Any) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)
