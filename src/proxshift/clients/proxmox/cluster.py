"""Cluster-wide reads: guests, nodes, a node's bridges, SDN vnets, the credentials' permissions."""

from __future__ import annotations

from dataclasses import dataclass

from proxshift.clients.proxmox.connection import Connection

BRIDGE_TYPES = ("bridge", "OVSBridge", "vnet")  # what a NIC's bridge= may name


@dataclass(frozen=True)
class Guest:
    """One guest from /cluster/resources."""

    vmid: int
    kind: str  # qemu or lxc
    node: str
    name: str
    status: str


class ClusterApi:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def guests(self) -> dict[int, Guest]:
        with self.connection.errors("listing the cluster's guests"):
            rows = self.connection.api.cluster.resources.get(type="vm")
        return {
            int(r["vmid"]): Guest(
                int(r["vmid"]), str(r.get("type")), str(r.get("node")), str(r.get("name", "")), str(r.get("status", ""))
            )
            for r in rows
        }

    def nodes(self) -> dict[str, str]:
        """Node name -> status (online, offline, unknown)."""
        with self.connection.errors("listing the nodes"):
            return {str(n["node"]): str(n.get("status", "")) for n in self.connection.api.nodes.get()}

    def bridges(self, node: str) -> dict[str, str]:
        """What a NIC on this node may attach to, name -> type: Linux and OVS bridges, SDN vnets."""
        with self.connection.errors(f"listing the bridges of {node}"):
            rows = self.connection.api.nodes(node).network.get(type="any_bridge")
        return {str(i["iface"]): str(i.get("type")) for i in rows if str(i.get("type")) in BRIDGE_TYPES}

    def vnet_zones(self) -> dict[str, str]:
        """SDN vnet -> its zone, for the vnets these credentials may see (SDN.Audit)."""
        with self.connection.errors("listing the SDN vnets"):
            rows = self.connection.api.cluster.sdn.vnets.get()
        return {str(r["vnet"]): str(r.get("zone", "")) for r in rows}

    def privileges(self) -> dict[str, set[str]]:
        """ACL path -> the privileges these credentials hold there (propagated below it)."""
        with self.connection.errors("reading the permissions of the credentials"):
            held = self.connection.api.access.permissions.get()
        return {path: set(privs) for path, privs in held.items()}
