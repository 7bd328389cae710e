"""Inventory node -> Proxmox VM parameters, drift against a VM's config, and the per-VM plan.

Pure logic: no API calls here, so every rule is unit-tested against plain dicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from proxshift.clients.proxmox.cluster import Guest
from proxshift.clients.proxmox.options import join_options, split_options
from proxshift.config.inventory import Cluster, DiskSpec, Node
from proxshift.config.pve_keys import INSTALL_ISO_SLOT, is_disk_slot

MARKER = "managed-by=proxshift"
NET_KEY = re.compile(r"net\d+")
SCALAR_KEYS = (
    "name",
    "memory",
    "cores",
    "sockets",
    "cpu",
    "numa",
    "scsihw",
    "ostype",
    "onboot",
    "boot",
    "bios",
    "machine",
)
DISK_OPTIONS = ("backup", "discard", "iothread", "ssd", "wwn")
NIC_OPTIONS = ("bridge", "tag", "firewall", "mtu")

Action = Literal["create", "unchanged", "recreate", "drift", "refuse"]


def _flag(value: bool) -> int:
    return 1 if value else 0


def marker_line(cluster: str, host: str) -> str:
    return f"{MARKER} cluster={cluster} host={host}"


@dataclass(frozen=True)
class VmSpec:
    """The one create call for a VM: node, vmid and every parameter."""

    cluster: str
    host: str
    node: str
    vmid: int
    params: dict[str, Any]

    @property
    def iso_volume(self) -> str | None:
        ide2 = self.params.get(INSTALL_ISO_SLOT)
        volume = split_options(str(ide2))[0] if ide2 else "none"
        return None if volume == "none" else volume


def vm_spec(node: Node, cluster: Cluster) -> VmSpec:
    spec = node.spec
    params: dict[str, Any] = {
        "vmid": spec.vmid,
        "name": node.fqdn,
        "memory": spec.memory,
        "cores": spec.cores,
        "sockets": spec.sockets,
        "cpu": spec.cpu,
        "numa": _flag(spec.numa),
        "scsihw": spec.scsihw,
        "ostype": spec.ostype,
        "onboot": _flag(spec.onboot),
        "boot": spec.boot,
        "tags": f"proxshift;{cluster.name}",
        "description": marker_line(cluster.name, node.name),
    }
    for key, disk in spec.disks.items():
        params[key] = join_options(
            f"{disk.storage}:{disk.size}", {name: _disk_option(disk, name) for name in DISK_OPTIONS}
        )
    for key, nic in spec.nics.items():
        params[key] = join_options(
            f"{nic.model}={nic.mac}" if nic.mac else nic.model,
            {
                "bridge": nic.bridge,
                "tag": nic.tag,
                "firewall": None if nic.firewall is None else _flag(nic.firewall),
                "mtu": nic.mtu,
            },
        )
    if spec.iso_image:
        params[INSTALL_ISO_SLOT] = f"{spec.iso_image},media=cdrom"
    if spec.bios == "ovmf":
        storage = spec.efidisk_storage or next(iter(spec.disks.values())).storage
        keys = 1 if spec.secure_boot else 0
        params.update(bios="ovmf", machine="q35", efidisk0=f"{storage}:1,efitype=4m,pre-enrolled-keys={keys}")
    return VmSpec(cluster.name, node.name, spec.pve_node, spec.vmid, params)


def _disk_option(disk: DiskSpec, name: str) -> object | None:
    value = getattr(disk, name)
    if value is None:
        return None
    if name == "discard":
        return "on" if value else "ignore"
    return _flag(value) if isinstance(value, bool) else value


def boot_devices(boot: str) -> list[str]:
    """`order=scsi0;ide2;net0` -> ['scsi0', 'ide2', 'net0'] (legacy `cdn` form -> [])."""
    match = re.search(r"order=([^,]+)", boot)
    return [d for d in match.group(1).split(";") if d] if match else []


def missing_boot_devices(spec: VmSpec) -> list[str]:
    return [d for d in boot_devices(str(spec.params.get("boot", ""))) if d not in spec.params]


# -- reading a VM's config back ----------------------------------------------------------------


def _size_gib(text: str | None) -> float | None:
    if not text:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)", text)
    if not match:
        return None
    factor = {"K": 1 / 1024**2, "M": 1 / 1024, "G": 1, "T": 1024, "": 1 / 1024**3}[match.group(2)]
    return float(match.group(1)) * factor


def _disk_view(value: str, created: bool) -> dict[str, str]:
    head, options = split_options(value)
    storage, _, volume = head.partition(":")
    view = {"storage": storage}
    size = _size_gib(options.get("size")) if created else float(volume)
    if size is not None:
        view["size"] = f"{size:g}G"
    for name in DISK_OPTIONS:
        if name in options:
            view[name] = options[name].lower()
    return view


def _nic_view(value: str) -> dict[str, str]:
    head, options = split_options(value)
    model, _, mac = head.partition("=")
    view = {"model": model, "mac": mac.upper()}
    view.update({k: options[k] for k in NIC_OPTIONS if k in options})
    return view


@dataclass(frozen=True)
class Drift:
    key: str
    want: str
    have: str

    def __str__(self) -> str:
        return f"{self.key}: {self.have or '(none)'} -> {self.want or '(none)'}"


def drift(spec: VmSpec, config: dict[str, Any]) -> list[Drift]:  # noqa: PLR0912 - one branch per kind of PVE key
    """Differences between what the inventory says and what the VM is; empty when they agree."""
    differences: list[Drift] = []
    for key in SCALAR_KEYS:
        want = spec.params.get(key)
        have = config.get(key)
        if key == "bios" and want is None:
            want = "seabios"
            have = have or "seabios"
        if want is None and have is None:
            continue
        if str(want if want is not None else "") != str(have if have is not None else ""):
            differences.append(Drift(key, str(want if want is not None else ""), str(have if have is not None else "")))
    keys = {k for k in [*spec.params, *config] if is_disk_slot(k) or NET_KEY.fullmatch(k)}
    for key in sorted(keys):
        want_value, have_value = spec.params.get(key), config.get(key)
        if want_value is None or have_value is None:
            differences.append(Drift(key, str(want_value or ""), str(have_value or "")))
            continue
        if NET_KEY.fullmatch(key):
            want_view, have_view = _nic_view(str(want_value)), _nic_view(str(have_value))
            if not want_view["mac"]:
                have_view["mac"] = ""  # PVE picked one; the inventory did not ask for a MAC
        elif key == INSTALL_ISO_SLOT or "media=cdrom" in str(want_value):
            want_view = {"volume": split_options(str(want_value))[0]}
            have_view = {"volume": split_options(str(have_value))[0]}
            if have_view["volume"] == "none":
                have_view = want_view  # ejected once the host was installed (nodes add does): not a change
        elif key.startswith("efidisk"):
            want_view = {"storage": str(want_value).split(":")[0]}
            have_view = {"storage": str(have_value).split(":")[0]}
            for option in ("efitype", "pre-enrolled-keys"):
                want_view[option] = split_options(str(want_value))[1].get(option, "")
                have_view[option] = split_options(str(have_value))[1].get(option, "")
        else:
            want_view, have_view = _disk_view(str(want_value), created=False), _disk_view(str(have_value), created=True)
        if want_view != have_view:
            changed = sorted(k for k in {*want_view, *have_view} if want_view.get(k) != have_view.get(k))
            differences.append(
                Drift(
                    key,
                    ",".join(f"{k}={want_view.get(k, '')}" for k in changed),
                    ",".join(f"{k}={have_view.get(k, '')}" for k in changed),
                )
            )
    return differences


def owner_of(config: dict[str, Any]) -> tuple[str, str] | None:
    """(cluster, host) from proxshift's description marker, or None for a VM that is not ours."""
    for line in str(config.get("description", "")).splitlines():
        match = re.fullmatch(rf"\s*{MARKER} cluster=(\S+) host=(\S+)\s*", line)
        if match:
            return match.group(1), match.group(2)
    return None


@dataclass
class VmPlan:
    """What proxshift would do to one VM, and why."""

    spec: VmSpec
    action: Action
    reason: str = ""
    drift: list[Drift] = field(default_factory=list)
    current_node: str | None = None
    status: str | None = None


def plan_vm(  # noqa: PLR0911 - the decision table for one VM: each return is one row of it
    spec: VmSpec, guest: Guest | None, config: dict[str, Any] | None, force: bool
) -> VmPlan:
    """What to do with the VM at this spec's vmid: `guest` is what holds it now, `config` its config."""
    if guest is None:
        return VmPlan(spec, "create", "vmid is free")
    node, status = guest.node, guest.status
    if guest.kind != "qemu":
        return VmPlan(
            spec,
            "refuse",
            f"vmid {spec.vmid} is used by container '{guest.name}' on {guest.node}",
            current_node=node,
            status=status,
        )
    owner = owner_of(config or {})
    if owner is None:
        return VmPlan(
            spec,
            "refuse",
            f"vmid {spec.vmid} is VM '{guest.name}' on {guest.node}, not created by proxshift",
            current_node=node,
            status=status,
        )
    if owner != (spec.cluster, spec.host):
        return VmPlan(
            spec,
            "refuse",
            f"vmid {spec.vmid} is proxshift's VM for host {owner[1]} of cluster {owner[0]}",
            current_node=node,
            status=status,
        )
    differences = drift(spec, config or {})
    if guest.node != spec.node:
        differences.insert(0, Drift("node", spec.node, guest.node))
    if not differences:
        return VmPlan(spec, "unchanged", "matches the inventory", current_node=node, status=status)
    if force:
        return VmPlan(
            spec, "recreate", "differs from the inventory (--force)", differences, current_node=node, status=status
        )
    return VmPlan(
        spec, "drift", "differs from the inventory; --force recreates it", differences, current_node=node, status=status
    )
