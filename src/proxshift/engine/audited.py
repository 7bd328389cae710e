"""The clients as the engine builds them: each act that reads a secret or changes something goes to the audit
trail (engine/audit.py). The clients themselves stay unaware of it; these subclasses are their callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from proxshift.clients.kube import Kube
from proxshift.clients.proxmox.client import Proxmox
from proxshift.clients.proxmox.tasks import Tasks
from proxshift.clients.proxmox.vms import VmApi
from proxshift.clients.vault import KvPath, ReadResult, Vault
from proxshift.engine.audit import record
from proxshift.errors import ProxshiftError


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


class AuditedKube(Kube):
    """Every object applied, patched or deleted, named by the API it went to (`label`: the cluster or hub)."""

    def _record(self, event: str, api_version: str, kind: str, name: str, namespace: str | None) -> None:
        record(
            event,
            api=self.label,
            server=self.server,
            apiVersion=api_version,
            kind=kind,
            namespace=namespace,
            name=name,
        )

    def apply(self, document: dict[str, Any], *, server_side: bool = True) -> dict[str, Any]:
        result = super().apply(document, server_side=server_side)
        metadata = document.get("metadata") or {}
        kind = document["kind"]
        self._record("kube.apply", document["apiVersion"], kind, metadata["name"], metadata.get("namespace"))
        return result

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: Literal["merge", "json"] = "merge",
    ) -> dict[str, Any] | None:
        result = super().patch(api_version, kind, name, patch, namespace, patch_type=patch_type)
        if result is not None:
            self._record("kube.patch", api_version, kind, name, namespace)
        return result

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        deleted = super().delete(api_version, kind, name, namespace)
        if deleted:
            self._record("kube.delete", api_version, kind, name, namespace)
        return deleted

    def approve_csr(self, csr: Mapping[str, Any], reason: str, message: str) -> dict[str, Any] | None:
        result = super().approve_csr(csr, reason, message)
        if result is not None:
            name = str((csr.get("metadata") or {}).get("name", ""))
            self._record("kube.approve", "certificates.k8s.io/v1", "CertificateSigningRequest", name, None)
        return result


class AuditedVmApi(VmApi):
    """The one VM change that is not a task: a config update (the option names, not their values)."""

    def update_config(self, node: str, vmid: int, digest: str, params: dict[str, Any]) -> None:
        super().update_config(node, vmid, digest, params)
        record("proxmox.config", node=node, vmid=vmid, options=sorted(params))


class AuditedTasks(Tasks):
    """Every Proxmox change is a task (UPID:<node>:<pid>:<pstart>:<start>:<type>:<id>:<user>:); each one
    waited for is recorded with its outcome."""

    def wait(self, upid: str, doing: str) -> None:
        try:
            super().wait(upid, doing)
        except ProxshiftError:
            _record_task(upid, "failed")
            raise
        _record_task(upid, "OK")


def _record_task(upid: str, status: str) -> None:
    parts = upid.split(":")
    node, action, target = (parts[1], parts[5], parts[6]) if len(parts) > 6 else ("", "", "")
    vmid = int(target) if target.isdigit() else None
    record("proxmox.task", node=node, vmid=vmid, action=action, target=target or None, task=upid, status=status)


def audited_proxmox(prox: Proxmox) -> Proxmox:
    """The same connection, its task waits and config updates recorded (the VM and storage APIs share the
    one `tasks`)."""
    tasks = AuditedTasks(prox.connection, prox.tasks.poll_interval, prox.tasks.timeout)
    prox.tasks = prox.storage.tasks = tasks
    prox.vms = AuditedVmApi(prox.connection, tasks)
    return prox
