"""`Proxmox`: one connection to a PVE cluster and what proxshift does through it, by job."""

from __future__ import annotations

from proxshift.clients.proxmox.cluster import ClusterApi
from proxshift.clients.proxmox.connection import Connection, Endpoint, ProxmoxCredentials
from proxshift.clients.proxmox.storage import StorageApi
from proxshift.clients.proxmox.tasks import Tasks
from proxshift.clients.proxmox.vms import VmApi


class Proxmox:
    """One login per run: `cluster` (guests, nodes, bridges, permissions), `vms`, `storage`, `tasks`."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: ProxmoxCredentials,
        *,
        poll_interval: float = 0.5,
        task_timeout: float = 900.0,
        connection: Connection | None = None,
    ) -> None:
        """`connection`: one already made for this endpoint and these credentials (logging in ahead, say)."""
        self.connection = connection or Connection(endpoint, credentials)
        self.tasks = Tasks(self.connection, poll_interval, task_timeout)
        self.cluster = ClusterApi(self.connection)
        self.vms = VmApi(self.connection, self.tasks)
        self.storage = StorageApi(self.connection, self.tasks)

    @property
    def endpoint(self) -> Endpoint:
        return self.connection.endpoint

    @property
    def credentials(self) -> ProxmoxCredentials:
        return self.connection.credentials
