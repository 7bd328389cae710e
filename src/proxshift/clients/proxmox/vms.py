"""One VM at a time in PVE's own terms: node, vmid, a params dict; each change waits for its task."""

from __future__ import annotations

from typing import Any

from proxshift.clients.proxmox.connection import Connection
from proxshift.clients.proxmox.tasks import Tasks
from proxshift.clients.transport import answer_lost
from proxshift.errors import OperationError


def vm_label(vmid: int, name: str = "") -> str:
    """How messages name a VM: `VM 401 (ocp-node1)`."""
    return f"VM {vmid} ({name})" if name else f"VM {vmid}"


class VmApi:
    def __init__(self, connection: Connection, tasks: Tasks) -> None:
        self.connection = connection
        self.tasks = tasks

    def _qemu(self, node: str, vmid: int) -> Any:
        return self.connection.api.nodes(node).qemu(vmid)

    def config(self, node: str, vmid: int) -> dict[str, Any]:
        with self.connection.errors(f"reading the config of VM {vmid}"):
            return dict(self._qemu(node, vmid).config.get())

    def status(self, node: str, vmid: int) -> dict[str, Any]:
        with self.connection.errors(f"reading the status of VM {vmid}"):
            return dict(self._qemu(node, vmid).status.current.get())

    def update_config(self, node: str, vmid: int, digest: str, params: dict[str, Any]) -> None:
        """Set options only if the config is still the one read: PVE compares `digest` and refuses otherwise."""
        with self.connection.errors(f"updating the config of VM {vmid}"):
            self._qemu(node, vmid).config.put(digest=digest, **params)

    def create(self, node: str, params: dict[str, Any], name: str = "") -> None:
        """One POST with every parameter (vmid included)."""
        doing = f"creating {vm_label(int(params['vmid']), name)}"
        with self.connection.errors(doing):
            upid = self.connection.api.nodes(node).qemu.post(**params)
        self.tasks.wait(str(upid), doing)

    def start(self, node: str, vmid: int, name: str = "") -> None:
        """Start and check it runs: a start task can end OK with the VM stopped again.

        A start whose answer was lost (the connection dropped after it went out, or the answer timed out)
        may or may not have reached PVE, so it is not simply sent again as a read would be: it is asked
        once more, and if PVE refuses that one (the VM already runs, its start holds the lock), the VM's
        status says whether the first one went through."""
        try:
            self._start(node, vmid, name)
        except OperationError as exc:
            if not answer_lost(exc):
                raise
            try:
                self._start(node, vmid, name)
            except OperationError:
                if self.status(node, vmid).get("status") != "running":
                    raise

    def _start(self, node: str, vmid: int, name: str) -> None:
        doing = f"starting {vm_label(vmid, name)}"
        with self.connection.errors(doing):
            upid = self._qemu(node, vmid).status.start.post()
        self.tasks.wait(str(upid), doing)
        status = self.status(node, vmid)
        if status.get("status") != "running":
            raise OperationError(
                f"{vm_label(vmid, name)} is {status.get('status')} after its start task", "see its log in Proxmox"
            )

    def shutdown(self, node: str, vmid: int, name: str, timeout: int, force: bool) -> str:
        """ACPI shutdown within `timeout` s; past it a hard stop only when `force`. Says which it was."""
        doing = f"shutting down {vm_label(vmid, name)}"
        with self.connection.errors(doing):
            upid = self._qemu(node, vmid).status.shutdown.post(timeout=timeout)
        try:
            self.tasks.wait(str(upid), doing)
            return "shut down"
        except OperationError as exc:
            if not force:
                raise OperationError(
                    f"{vm_label(vmid, name)} did not shut down within {timeout} s ({exc.message})",
                    "run again with --force to hard-stop it",
                ) from None
        self.hard_stop(node, vmid, name)
        return "stopped (forced)"

    def hard_stop(self, node: str, vmid: int, name: str = "") -> None:
        doing = f"stopping {vm_label(vmid, name)}"
        with self.connection.errors(doing):
            upid = self._qemu(node, vmid).status.stop.post()
        self.tasks.wait(str(upid), doing)

    def destroy(self, node: str, vmid: int, name: str = "") -> None:
        """Purge it from backup jobs and HA, and remove its disks, referenced or not."""
        doing = f"destroying {vm_label(vmid, name)}"
        with self.connection.errors(doing):
            upid = self._qemu(node, vmid).delete(purge=1, **{"destroy-unreferenced-disks": 1})
        self.tasks.wait(str(upid), doing)
