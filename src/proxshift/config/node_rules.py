"""Rules for one VM of the inventory: what Proxmox would refuse, and what OpenShift needs of a node."""

from __future__ import annotations

import re
from collections.abc import Iterator

from proxshift.config.inventory import Cluster, Node
from proxshift.config.pve_keys import INSTALL_ISO_SLOT, is_data_disk_slot
from proxshift.errors import Problem

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
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


def node_rules(cluster: Cluster, node: Node, file: str) -> Iterator[Problem]:
    """What Proxmox and OpenShift need of one VM: its name, IDs, CPU, addresses, disks, NICs, sizes."""
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
