"""Plain-data views of clusters and nodes, shared by tables and --json output."""

from __future__ import annotations

from typing import Any

from proxshift.config.inventory import Cluster, Node
from proxshift.config.settings import Settings


def cluster_summary(cluster: Cluster) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "type": cluster.type,
        "topology": cluster.topology,
        "topology_label": cluster.topology_label,
        "version": cluster.vars.ocp_version,
        "masters": len(cluster.masters),
        "workers": len(cluster.workers),
        "nodes": len(cluster.nodes),
        "api_address": str(cluster.api_address) if cluster.api_address else None,
        "pve_nodes": list(cluster.pve_nodes),
        "hosts": [n.name for n in cluster.nodes],
    }


def _disk_text(key: str, node: Node) -> str:
    disk = node.spec.disks[key]
    flags = [f for f, on in (("ssd", disk.ssd), ("iothread", disk.iothread)) if on]
    return f"{key}={disk.storage}:{disk.size}G" + (f" ({','.join(flags)})" if flags else "")


def _nic_text(key: str, node: Node) -> str:
    nic = node.spec.nics[key]
    vlan = f" vlan {nic.tag}" if nic.tag is not None else ""
    return f"{key}={nic.model} {nic.mac or '-'} {nic.bridge}{vlan}"


def node_details(node: Node) -> dict[str, Any]:
    spec = node.spec
    return {
        "name": node.name,
        "fqdn": node.fqdn,
        "role": node.role,
        "ip": str(node.ip) if node.ip else None,
        "mac": node.mac,
        "vmid": spec.vmid,
        "pve_node": spec.pve_node,
        "cores": spec.cores,
        "sockets": spec.sockets,
        "memory_mb": spec.memory,
        "cpu": spec.cpu,
        "bios": spec.bios,
        "disks": {k: d.model_dump(exclude_none=True, exclude=set(d.model_extra or {})) for k, d in spec.disks.items()},
        "nics": {k: n.model_dump(exclude_none=True, exclude=set(n.model_extra or {})) for k, n in spec.nics.items()},
        "disks_text": [_disk_text(k, node) for k in spec.disks],
        "nics_text": [_nic_text(k, node) for k in spec.nics],
        "root_device_wwn": node.root_wwn,
        "iso_image": spec.iso_image,
    }


def cluster_details(cluster: Cluster, settings: Settings) -> dict[str, Any]:
    net = settings.network_defaults
    return {
        **cluster_summary(cluster),
        "base_domain": cluster.base_domain,
        "api_vip": str(cluster.vars.api_vip) if cluster.vars.api_vip else None,
        "ingress_vip": str(cluster.vars.ingress_vip) if cluster.vars.ingress_vip else None,
        "rendezvous_ip": str(cluster.rendezvous_ip) if cluster.rendezvous_ip else None,
        "network": {
            "subnet": str(net.subnet),
            "gateway": str(net.gateway),
            "dns_servers": [str(s) for s in net.dns_servers],
            "cluster_network": f"{net.cluster_cidr} (hostPrefix {net.host_prefix})",
            "service_network": str(net.service_cidr),
            "interface": net.interface_name,
        }
        if net
        else None,
        "acm_labels": cluster.vars.acm_labels,
        "hosts": [node_details(n) for n in cluster.nodes],
    }
