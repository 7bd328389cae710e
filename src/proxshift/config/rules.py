"""Cross-field rules over the whole inventory: what the installer and Proxmox would reject.

The rules for one VM are in node_rules.py; here: clusters, their addresses, and clashes between them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from proxshift.config.inventory import Cluster, Inventory
from proxshift.config.node_rules import DNS_LABEL, node_rules
from proxshift.config.post_install import hook_problems, label_problems, post_install_problems
from proxshift.config.settings import NetworkDefaults, Settings
from proxshift.errors import Problem

VERSION = re.compile(r"\d+\.\d+\.\d+")
MAX_CLUSTER_NAME = 54


def validate(inventory: Inventory, settings: Settings, only: list[str] | None = None) -> list[Problem]:
    """Every rule, for the named clusters (or all), against the whole inventory for clashes."""
    file = inventory.file
    selected = [c for name, c in inventory.clusters.items() if not only or name in only]
    problems: list[Problem] = []
    for cluster in selected:
        problems += list(_cluster_rules(cluster, settings, file))
        problems += post_install_problems(settings.post_install, cluster, file)
        problems += list(_post_install_rules(cluster, file))
        for node in cluster.nodes:
            problems += list(node_rules(cluster, node, file))
    problems += list(_uniqueness_rules(list(inventory.clusters.values()), selected, file))
    problems += list(_dns_server_rules(selected, settings))
    return [
        Problem(p.file, p.location, p.message, p.fix, p.severity, p.line or inventory.line_of(p.location))
        for p in problems
    ]


def _cluster_rules(cluster: Cluster, settings: Settings, file: str) -> Iterator[Problem]:
    where = cluster.location
    if not DNS_LABEL.fullmatch(cluster.name) or len(cluster.name) > MAX_CLUSTER_NAME:
        yield Problem(
            file,
            where,
            f"cluster name '{cluster.name}' is not a lowercase DNS label of at most 54 characters",
            "use lowercase letters, digits and '-', starting and ending with a letter or digit",
        )
    if not VERSION.fullmatch(cluster.vars.ocp_version):
        yield Problem(
            file,
            cluster.where("ocp_version"),
            f"'{cluster.vars.ocp_version}' is not an X.Y.Z version",
            'write the full release, quoted, e.g. ocp_version: "4.19.1"',
        )
    yield from _topology_rules(cluster, file)
    net = settings.network_defaults
    if net is not None:
        yield from _address_rules(cluster, net, file)
    if cluster.base_domain is None and settings.source is not None:
        yield Problem(
            file,
            cluster.where("base_domain"),
            "no base domain is known for this cluster",
            "set network_defaults.base_domain in the site config, or base_domain in the cluster's vars",
        )


def _post_install_rules(cluster: Cluster, file: str) -> Iterator[Problem]:
    """Hooks of unknown phases, hosts' node labels Kubernetes would refuse (config/post_install.py; the
    cluster's post_install, node labels included: post_install_problems)."""
    if cluster.vars.hooks is not None:
        yield from hook_problems(cluster.vars.hooks, file, cluster.where("hooks"))
    for node in cluster.nodes:
        yield from label_problems(node.spec.node_labels, file, node.where("node_labels"))


def _topology_rules(cluster: Cluster, file: str) -> Iterator[Problem]:
    """Host and master counts the installer accepts, and the VIPs a multi-node cluster needs."""
    where = cluster.location
    masters = len(cluster.masters)
    if cluster.type == "sno":
        if len(cluster.nodes) != 1:
            yield Problem(
                file,
                f"{where}.hosts",
                f"a single-node cluster has exactly 1 host, this one has {len(cluster.nodes)}",
                "remove the extra hosts, or set cluster_type: multi_node with 3 to 5 masters",
            )
        elif masters != 1:
            yield Problem(
                file,
                cluster.nodes[0].where("role"),
                "the only host of a single-node cluster must be a master",
                "remove role: worker from it",
            )
    else:
        if len(cluster.nodes) == 2:
            yield Problem(
                file,
                f"{where}.hosts",
                "a 2-node cluster cannot be installed (two-node OpenShift needs an arbiter or fencing)",
                "use 1 host (SNO) or at least 3 masters",
            )
        elif masters not in (3, 4, 5):
            yield Problem(
                file,
                f"{where}.hosts",
                f"has {masters} masters; the installer accepts 3, 4 or 5 in a multi-node cluster",
                "keep 3, 4 or 5 masters by adjusting the hosts' role: settings "
                "(the first three hosts are masters by default)",
            )
        for key in ("api_vip", "ingress_vip"):
            if getattr(cluster.vars, key) is None:
                yield Problem(
                    file,
                    cluster.where(key),
                    "is required for a multi-node cluster",
                    f"set {key} to a free address inside network_defaults.subnet",
                )
        if cluster.vars.api_vip is not None and cluster.vars.api_vip == cluster.vars.ingress_vip:
            yield Problem(
                file,
                cluster.where("ingress_vip"),
                "must differ from api_vip",
                "give the ingress VIP its own free address",
            )


def _address_rules(cluster: Cluster, net: NetworkDefaults, file: str) -> Iterator[Problem]:
    addresses: list[tuple[str, ipaddress.IPv4Address]] = []
    for key in ("api_vip", "ingress_vip"):
        vip = getattr(cluster.vars, key)
        if vip is not None:
            addresses.append((cluster.where(key), vip))
    addresses += [(n.where("ip") if n.spec.ip else n.location + ".ip", n.ip) for n in cluster.nodes if n.ip]
    for location, address in addresses:
        if address not in net.subnet:
            yield Problem(
                file,
                location,
                f"{address} is outside network_defaults.subnet ({net.subnet})",
                "use an address inside the subnet, or correct base_ip / the subnet",
            )
        elif address in (net.subnet.network_address, net.subnet.broadcast_address):
            yield Problem(
                file,
                location,
                f"{address} is the network or broadcast address of {net.subnet}",
                "use a host address of the subnet",
            )
        elif address == net.gateway:
            yield Problem(file, location, f"{address} is the gateway", "use an address no other device has")
    node_ips = {n.ip: n for n in cluster.nodes if n.ip}
    for key in ("api_vip", "ingress_vip"):
        vip = getattr(cluster.vars, key)
        if vip is not None and vip in node_ips:
            yield Problem(
                file,
                cluster.where(key),
                f"{vip} is also the IP of host {node_ips[vip].name}",
                "VIPs need addresses of their own, outside the hosts' range (base_ip + host count)",
            )


def _uniqueness_rules(all_clusters: list[Cluster], selected: list[Cluster], file: str) -> Iterator[Problem]:
    """Same vmid / MAC / IP twice is an error, except the same host reused by another cluster."""
    selected_names = {c.name for c in selected}
    for label, values_of in (
        ("vmid", lambda n: [(n.where("vmid"), str(n.spec.vmid))]),
        ("MAC", lambda n: [(n.where("nics", k, "mac"), nic.mac.upper()) for k, nic in n.spec.nics.items() if nic.mac]),
        ("IP", lambda n: [(n.where("ip"), str(n.ip))] if n.ip else []),
    ):
        seen: dict[str, tuple[str, str, str, str]] = {}  # value -> (cluster, host, location, VM identity)
        for cluster in all_clusters:
            entries: list[tuple[str, str, str, str]] = [
                (host_location, value, node.name, f"{node.spec.vmid}@{node.spec.pve_node}")
                for node in cluster.nodes
                for host_location, value in values_of(node)
            ]
            if label == "IP":
                entries += [
                    (cluster.where(k), str(getattr(cluster.vars, k)), f"<{k}>", "")
                    for k in ("api_vip", "ingress_vip")
                    if getattr(cluster.vars, k) is not None
                ]
            for location, value, host, vm in entries:
                if value not in seen:
                    seen[value] = (cluster.name, host, location, vm)
                    continue
                other_cluster, other_host, other_location, other_vm = seen[value]
                same_cluster = other_cluster == cluster.name
                if not same_cluster and other_host == host and other_vm == vm and not host.startswith("<"):
                    continue  # the same VM in an alternative cluster layout
                if cluster.name not in selected_names and other_cluster not in selected_names:
                    continue
                if label == "IP" and same_cluster and {host, other_host} & {"<api_vip>", "<ingress_vip>"}:
                    continue  # reported by the cluster's own VIP rules
                yield Problem(
                    file,
                    location,
                    f"{label} {value} is also used at {other_location}",
                    f"give every host its own {label}"
                    + (
                        ""
                        if same_cluster
                        else " (a host may appear in two clusters only as the same VM: same name, vmid and pve_node)"
                    ),
                )


def _dns_server_rules(all_clusters: list[Cluster], settings: Settings) -> Iterator[Problem]:
    net = settings.network_defaults
    if net is None:
        return
    node_ips = {n.ip: n for c in all_clusters for n in c.nodes if n.ip}
    for index, server in enumerate(net.dns_servers):
        node = node_ips.get(server)
        if node is not None:
            yield Problem(
                settings.source_label,
                f"network_defaults.dns_servers.{index}",
                f"{server} is also the IP of host {node.name} in cluster {node.cluster}; "
                "that node would be its own DNS server",
                "point dns_servers at your real DNS servers, or move the cluster's base_ip",
                "warning",
            )
