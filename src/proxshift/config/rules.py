"""Cross-field rules over the whole inventory: what the installer and Proxmox would reject."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from proxshift.config.inventory import Cluster, Inventory, Node
from proxshift.config.pve_keys import INSTALL_ISO_SLOT, is_data_disk_slot
from proxshift.config.settings import NetworkDefaults, Settings
from proxshift.errors import Problem

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
VERSION = re.compile(r"\d+\.\d+\.\d+")
MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
WWN = re.compile(r"0x[0-9A-Fa-f]{16}")
ISO_VOLUME = re.compile(r"[A-Za-z][\w.-]*:iso/[^/\s]+\.iso")
NIC_KEY = re.compile(r"net(\d+)")
NIC_MAX_INDEX = 31
VMID_RANGE = (100, 999_999_999)
# PVE's enum for netN model (qemu-server PVE/QemuServer.pm, $nic_model_list).
NIC_MODELS = frozenset(
    {
        "e1000",
        "e1000-82540em",
        "e1000-82544gc",
        "e1000-82545em",
        "e1000e",
        "i82551",
        "i82557b",
        "i82559er",
        "ne2k_isa",
        "ne2k_pci",
        "pcnet",
        "rtl8139",
        "virtio",
        "vmxnet3",
    }
)
# RHEL 9 based RHCOS needs x86-64-v2; these QEMU models do not provide it.
CPU_WITHOUT_V2 = frozenset({"kvm64", "qemu64", "kvm32", "qemu32"})
# OpenShift's documented minimums (installing on any platform, "Minimum resource requirements").
MINIMUMS = {
    "sno": {"vcpus": 8, "memory": 16384, "disk": 120},
    "master": {"vcpus": 4, "memory": 16384, "disk": 100},
    "worker": {"vcpus": 2, "memory": 8192, "disk": 100},
}
MAX_CLUSTER_NAME = 54


def validate(inventory: Inventory, settings: Settings, only: list[str] | None = None) -> list[Problem]:
    """Every rule, for the named clusters (or all), against the whole inventory for clashes."""
    file = inventory.file
    selected = [c for name, c in inventory.clusters.items() if not only or name in only]
    problems: list[Problem] = []
    for cluster in selected:
        problems += list(_cluster_rules(cluster, settings, file))
        for node in cluster.nodes:
            problems += list(_node_rules(cluster, node, file))
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


def _node_rules(cluster: Cluster, node: Node, file: str) -> Iterator[Problem]:
    spec = node.spec
    if not DNS_LABEL.fullmatch(node.name) or len(node.name) > 63:
        yield Problem(
            file,
            node.location,
            f"host name '{node.name}' is not a lowercase DNS label",
            "use lowercase letters, digits and '-', at most 63 characters",
        )
    if not VMID_RANGE[0] <= spec.vmid <= VMID_RANGE[1]:
        yield Problem(
            file,
            node.where("vmid"),
            f"{spec.vmid} is outside Proxmox's range 100-999999999",
            "pick a vmid from 100 to 999999999",
        )
    for key in ("memory", "cores", "sockets"):
        if getattr(spec, key) <= 0:
            yield Problem(file, node.where(key), "must be a positive number", f"set {key} to a positive whole number")
    if spec.cpu.lower() in CPU_WITHOUT_V2:
        yield Problem(
            file,
            node.where("cpu"),
            f"CPU model '{spec.cpu}' lacks x86-64-v2, which RHEL 9 based CoreOS needs to boot",
            "use cpu: host (or x86-64-v2-AES)",
        )
    if spec.wwn is not None and not WWN.fullmatch(spec.wwn):
        yield Problem(
            file, node.where("wwn"), f"'{spec.wwn}' is not a WWN", "write 0x followed by 16 hex digits, quoted"
        )
    if spec.mac is not None:
        yield from _mac_rule(spec.mac, node.where("mac"), file)
    if node.mac is None:
        yield Problem(
            file,
            node.where("nics", "net0", "mac"),
            "the host has no MAC address",
            "set mac: on net0 (the installer matches hosts by MAC)",
        )
    if spec.iso_image is not None and not ISO_VOLUME.fullmatch(spec.iso_image):
        yield Problem(
            file,
            node.where("iso_image"),
            f"'{spec.iso_image}' is not an ISO volume",
            "write <storage>:iso/<name>.iso, e.g. 'your_nfs:iso/ocp-agent.x86_64.iso'",
        )
    if spec.secure_boot and spec.bios != "ovmf":
        yield Problem(file, node.where("secure_boot"), "secure boot needs UEFI firmware", "set bios: ovmf as well")
    yield from _disk_rules(node, file)
    yield from _nic_rules(node, file)
    yield from _minimum_rules(cluster, node, file)


def _mac_rule(mac: str, location: str, file: str) -> Iterator[Problem]:
    if not MAC.fullmatch(mac):
        yield Problem(
            file,
            location,
            f"'{mac}' is not a MAC address",
            "write six hex pairs separated by ':', quoted, e.g. 'BC:24:11:00:00:01'",
        )
    elif int(mac[:2], 16) & 1:
        yield Problem(
            file,
            location,
            f"'{mac}' is a multicast address; a NIC needs a unicast MAC",
            "make the first byte even, e.g. BC:24:11:... (Proxmox's prefix)",
        )


def _disk_rules(node: Node, file: str) -> Iterator[Problem]:
    for key, disk in node.spec.disks.items():
        if not is_data_disk_slot(key):
            yield Problem(
                file,
                node.where("disks", key),
                f"'{key}' is not a Proxmox disk slot",
                "use scsi0-30, virtio0-15, sata0-5 or ide0-3",
            )
        if disk.size <= 0:
            yield Problem(
                file,
                node.where("disks", key, "size"),
                f"size {disk.size} is not positive",
                "give the size in GB as a positive whole number",
            )
        if not disk.storage:
            yield Problem(
                file, node.where("disks", key, "storage"), "is empty", "name the Proxmox storage, e.g. local-lvm"
            )
        if disk.wwn is not None and not WWN.fullmatch(disk.wwn):
            yield Problem(
                file,
                node.where("disks", key, "wwn"),
                f"'{disk.wwn}' is not a WWN",
                "write 0x followed by 16 hex digits, quoted",
            )
    if node.spec.iso_image is not None and INSTALL_ISO_SLOT in node.spec.disks:
        yield Problem(
            file,
            node.where("disks", INSTALL_ISO_SLOT),
            f"{INSTALL_ISO_SLOT} is where proxshift attaches the install ISO",
            "move this disk to another slot",
        )


def _nic_rules(node: Node, file: str) -> Iterator[Problem]:
    for key, nic in node.spec.nics.items():
        match = NIC_KEY.fullmatch(key)
        if not match or int(match.group(1)) > NIC_MAX_INDEX:
            yield Problem(file, node.where("nics", key), f"'{key}' is not a Proxmox NIC slot", "use net0 to net31")
        if nic.model not in NIC_MODELS:
            yield Problem(
                file,
                node.where("nics", key, "model"),
                f"'{nic.model}' is not a NIC model Proxmox knows",
                "use virtio (or one of: " + ", ".join(sorted(NIC_MODELS - {"virtio"})) + ")",
            )
        if nic.tag is not None and not 1 <= nic.tag <= 4094:
            yield Problem(
                file,
                node.where("nics", key, "tag"),
                f"VLAN tag {nic.tag} is outside 1-4094",
                "use a VLAN ID from 1 to 4094, or leave tag out",
            )
        if nic.mac is not None:
            yield from _mac_rule(nic.mac, node.where("nics", key, "mac"), file)


def _minimum_rules(cluster: Cluster, node: Node, file: str) -> Iterator[Problem]:
    kind = "sno" if cluster.type == "sno" else node.role
    minimum = MINIMUMS[kind]
    label = {"sno": "a single-node cluster", "master": "a control-plane node", "worker": "a worker"}[kind]
    if 0 < node.vcpus < minimum["vcpus"]:
        yield Problem(
            file,
            node.where("cores"),
            f"{node.vcpus} vCPUs is below OpenShift's minimum of {minimum['vcpus']} for {label}",
            "raise cores (or sockets)",
            "warning",
        )
    if 0 < node.spec.memory < minimum["memory"]:
        yield Problem(
            file,
            node.where("memory"),
            f"{node.spec.memory} MB is below OpenShift's minimum of {minimum['memory']} MB for {label}",
            "raise memory",
            "warning",
        )
    boot_disk = next(iter(node.spec.disks.items()), None)
    if boot_disk and 0 < boot_disk[1].size < minimum["disk"]:
        yield Problem(
            file,
            node.where("disks", boot_disk[0], "size"),
            f"{boot_disk[1].size} GB is below OpenShift's minimum of {minimum['disk']} GB for {label}",
            "grow the first disk",
            "warning",
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
