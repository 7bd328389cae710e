"""Turn pydantic validation errors into Problems that name the file, the place and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from proxshift.errors import Problem

if TYPE_CHECKING:
    from pydantic import ValidationError

# How to fix a field, by its name: the message users see next to pydantic's complaint.
FIELD_FIXES: dict[str, str] = {
    "vmid": "use a whole number from 100 to 999999999 that no other VM uses",
    "memory": "give the memory in MB as a whole number, e.g. 16384",
    "cores": "give the number of cores as a whole number, e.g. 8",
    "sockets": "give the number of sockets as a whole number, usually 1",
    "size": "give the disk size in GB as a whole number, e.g. 120",
    "storage": "name the Proxmox storage that holds the disk, e.g. local-lvm",
    "tag": "give the VLAN tag as a whole number from 1 to 4094",
    "pve_node": "name the Proxmox node that runs the VM, e.g. pve1",
    "ocp_version": 'quote the version as text, e.g. ocp_version: "4.19.1"',
    "cluster_type": "write cluster_type: sno or cluster_type: multi_node",
    "role": "write role: master or role: worker",
    "base_ip": "write an IPv4 address, e.g. 192.168.1.50",
    "api_vip": "write an IPv4 address inside network_defaults.subnet",
    "ingress_vip": "write an IPv4 address inside network_defaults.subnet",
    "ip": "write an IPv4 address inside network_defaults.subnet",
    "subnet": "write the network in CIDR form, e.g. 192.168.1.0/24",
    "gateway": "write the gateway's IPv4 address, e.g. 192.168.1.1",
    "dns_servers": "list DNS servers as IPv4 addresses",
    "base_domain": "write the DNS domain, e.g. homelab.local",
    "bios": "write bios: seabios or bios: ovmf",
    "disks": "give a mapping of disk keys to disk settings, e.g. scsi0: {storage: local-lvm, size: 120}",
    "nics": "give a mapping of NIC keys to NIC settings, e.g. net0: {model: virtio, mac: ..., bridge: vmbr0}",
    "node_labels": 'give labels as quoted strings, e.g. node_labels: {"topology.kubernetes.io/region": "homelab"}',
    "storage_class_timeout": "write a duration, e.g. 10m, 1h or 90s",
    "node_timeout": "write a duration, e.g. 15m",
    "hook_timeout": "write a duration, e.g. 10m",
    "before": 'map phase names to lists of argument lists, e.g. before: {vms: [["./hooks/dns.sh"]]}',
    "after": 'map phase names to lists of argument lists, e.g. after: {acm: [["./hooks/notify.sh"]]}',
}


def closest(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def join_location(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def problems_from_validation_error(
    exc: ValidationError,
    file: str,
    location_of: Mapping[str, str] | None = None,
    prefix: str = "",
    line_of: Mapping[str, int] | None = None,
) -> list[Problem]:
    """One Problem per pydantic error; `location_of` maps a top-level key to where it was set."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        head = loc[0] if loc else ""
        base = (location_of or {}).get(head, prefix)
        location = join_location(base, *loc)
        field = next((part for part in reversed(loc) if part in FIELD_FIXES), head)
        message = error["msg"]
        if error["type"] == "missing":
            message = "is required but missing"
        problems.append(
            Problem(
                file=file,
                location=location,
                message=message,
                fix=FIELD_FIXES.get(field, "see docs/inventory.md for the expected type"),
                line=(line_of or {}).get(location),
            )
        )
    return problems
