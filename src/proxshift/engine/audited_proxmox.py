"""The Proxmox client as the engine builds it: each task waited for (with its outcome) and each config update
goes to the audit trail (engine/audit.py); Vault's is in engine/audited.py, Kubernetes' in audited_kube.py."""

from __future__ import annotations

from typing import Any

from proxshift.clients.proxmox.client import Proxmox
from proxshift.clients.proxmox.tasks import Tasks
from proxshift.clients.proxmox.vms import VmApi
from proxshift.engine.audit import record
from proxshift.errors import ProxshiftError


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
