"""The Vault client as the engine builds it: each secret read and each write goes to the audit trail
(engine/audit.py). The clients themselves stay unaware of it; these subclasses are their callers. The
Kubernetes and Proxmox clients' are in engine/audited_kube.py and engine/audited_proxmox.py, so that a
command imports only the client modules it uses (`manifests`: Vault's alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxshift.clients.vault import KvPath, ReadResult, Vault
from proxshift.engine.audit import record


class AuditedVault(Vault):
    """Every secret read (path, key names, version) and every write: credentials (`write_credentials` writes
    only what differs from what is there) and backups."""

    def read(self, location: KvPath) -> ReadResult:
        result = super().read(location)
        record("vault.read", path=str(location), keys=result.keys, version=result.version)
        return result

    def write(self, location: KvPath, values: Mapping[str, Any], tags: Mapping[str, str]) -> int:
        version = super().write(location, values, tags)
        record("vault.write", path=str(location), keys=sorted(values), version=version)
        return version
