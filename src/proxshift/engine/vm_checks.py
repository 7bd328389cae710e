"""What Proxmox must allow and hold before a VM is created: the credentials' privileges, and nodes,
storages, bridges, boot order and ISO, which PVE itself checks late or not at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from proxshift.clients.proxmox.options import option, split_options
from proxshift.config.pve_keys import INSTALL_ISO_SLOT, is_disk_slot
from proxshift.engine.vmspec import NET_KEY, VmSpec, missing_boot_devices

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox

# What proxshift does on Proxmox, by privilege (docs/proxmox.md lists them for a role).
VM_PRIVILEGES = (
    "VM.Allocate",
    "VM.Audit",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.PowerMgmt",
)
STORAGE_PRIVILEGES = ("Datastore.AllocateSpace", "Datastore.Audit")
ISO_PRIVILEGES = ("Datastore.AllocateTemplate",)
NODE_PRIVILEGES = ("Sys.Audit",)
# PVE 8+ checks SDN.Use for every NIC's bridge (PVE::GuestHelpers::check_vnet_access): on
# /sdn/zones/<zone>/<bridge>, plus /<tag> for a tagged NIC; a plain Linux or OVS bridge counts as a vnet
# of the zone `localnetwork`.
BRIDGE_PRIVILEGES = ("SDN.Use",)
LOCAL_ZONE = "localnetwork"


class NodeFacts:
    """The Proxmox side the checks look at, each read at most once: nodes, a node's storages, bridges
    and ISO images, the SDN vnets' zones."""

    def __init__(self, prox: Proxmox) -> None:
        self.prox = prox
        self._nodes: dict[str, str] | None = None
        self._storages: dict[str, dict[str, dict[str, Any]]] = {}
        self._bridges: dict[str, dict[str, str]] = {}
        self._isos: dict[tuple[str, str], set[str]] = {}
        self._vnet_zones: dict[str, str] | None = None

    def nodes(self) -> dict[str, str]:
        if self._nodes is None:
            self._nodes = self.prox.cluster.nodes()
        return self._nodes

    def online(self, node: str) -> bool:
        return self.nodes().get(node) == "online"

    def storages(self, node: str) -> dict[str, dict[str, Any]]:
        if node not in self._storages:
            self._storages[node] = self.prox.storage.storages(node)
        return self._storages[node]

    def bridges(self, node: str) -> dict[str, str]:
        if node not in self._bridges:
            self._bridges[node] = self.prox.cluster.bridges(node)
        return self._bridges[node]

    def isos(self, node: str, storage: str) -> set[str]:
        if (node, storage) not in self._isos:
            self._isos[(node, storage)] = set(self.prox.storage.iso_content(node, storage))
        return self._isos[(node, storage)]

    def vnet_zones(self) -> dict[str, str]:
        if self._vnet_zones is None:
            self._vnet_zones = self.prox.cluster.vnet_zones()
        return self._vnet_zones


def missing_privileges(prox: Proxmox, specs: list[VmSpec], facts: NodeFacts, iso_upload: bool = False) -> list[str]:
    """Privileges the credentials lack for these VMs, named with the path that needs them."""
    held = prox.cluster.privileges()

    def has(privilege: str, path: str) -> bool:
        parts = path.strip("/").split("/")
        prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(privilege in held.get(prefix, set()) for prefix in prefixes)

    def lacking(privileges: tuple[str, ...], path: str) -> list[str]:
        return [f"{p} on {path}" for p in privileges if not has(p, path)]

    # SDN.Use on every zone (a role on /, say) needs no look at the bridges.
    check_bridges = not has("SDN.Use", "/sdn/zones")
    missing = []
    for spec in specs:
        missing += lacking(VM_PRIVILEGES, f"/vms/{spec.vmid}")
        for storage in {str(v).split(":")[0] for k, v in spec.params.items() if _is_disk(k)}:
            missing += lacking(STORAGE_PRIVILEGES, f"/storage/{storage}")
        missing += lacking(NODE_PRIVILEGES, f"/nodes/{spec.node}")
        if iso_upload and spec.iso_volume:
            missing += lacking(ISO_PRIVILEGES, f"/storage/{spec.iso_volume.split(':')[0]}")
        if check_bridges and facts.online(spec.node):
            for path in bridge_paths(spec, facts.bridges(spec.node), facts.vnet_zones):
                missing += lacking(BRIDGE_PRIVILEGES, path)
    return list(dict.fromkeys(missing))


def bridge_paths(spec: VmSpec, bridges: dict[str, str], vnet_zones: Callable[[], dict[str, str]]) -> list[str]:
    """The ACL paths PVE checks SDN.Use on for this VM's NICs. `bridges` is the node's (name -> type),
    `vnet_zones` a callable giving each SDN vnet's zone (read only when a NIC uses a vnet). A bridge the
    node lacks is left to the environment check; a vnet whose zone these credentials cannot see, to PVE."""
    paths = []
    for key, value in spec.params.items():
        if not NET_KEY.fullmatch(key):
            continue
        options = split_options(str(value))[1]
        bridge = options.get("bridge", "")
        kind = bridges.get(bridge)
        if kind is None:
            continue
        zone = vnet_zones().get(bridge) if kind == "vnet" else LOCAL_ZONE
        if zone:
            tag = options.get("tag")
            paths.append(f"/sdn/zones/{zone}/{bridge}" + (f"/{tag}" if tag else ""))
    return paths


def check_environment(facts: NodeFacts, specs: list[VmSpec], iso_present: bool = True) -> list[str]:
    """What fakepve (and PVE at create time) would not catch: nodes, storages, bridges, boot order, ISO."""
    problems: list[str] = []
    nodes = facts.nodes()
    for spec in specs:
        where = f"{spec.host} (vmid {spec.vmid})"
        if spec.node not in nodes:
            problems.append(f"{where}: Proxmox node '{spec.node}' does not exist (nodes: {', '.join(sorted(nodes))})")
            continue
        if nodes[spec.node] != "online":
            problems.append(f"{where}: Proxmox node '{spec.node}' is {nodes[spec.node] or 'not online'}")
            continue
        problems += [f"{where}: {problem}" for problem in _devices(facts, spec)]
        problems += [
            f"{where}: boot order names {device}, which the VM does not have (boot: {spec.params['boot']})"
            for device in missing_boot_devices(spec)
        ]
        if spec.iso_volume and iso_present:
            problems += [f"{where}: {problem}" for problem in _iso(facts, spec)]
    return problems


def _devices(facts: NodeFacts, spec: VmSpec) -> list[str]:
    """Each disk's storage exists on the node and holds images; each NIC's bridge exists there."""
    problems = []
    storages = facts.storages(spec.node)
    for key, value in spec.params.items():
        if _is_disk(key):
            storage = str(value).split(":")[0]
            info = storages.get(storage)
            if info is None:
                problems.append(f"{key}: storage '{storage}' does not exist on {spec.node}")
            elif "images" not in str(info.get("content", "")).split(","):
                problems.append(
                    f"{key}: storage '{storage}' does not hold disk images (content: {info.get('content')})"
                )
        elif NET_KEY.fullmatch(key):
            bridge = option(str(value), "bridge")
            if bridge and bridge not in facts.bridges(spec.node):
                problems.append(f"{key}: bridge '{bridge}' does not exist on {spec.node}")
    return problems


def _iso(facts: NodeFacts, spec: VmSpec) -> list[str]:
    assert spec.iso_volume is not None  # noqa: S101 - checked by the caller
    storage = spec.iso_volume.partition(":")[0]
    info = facts.storages(spec.node).get(storage)
    if info is None:
        return [f"ISO storage '{storage}' does not exist on {spec.node}"]
    if "iso" not in str(info.get("content", "")).split(","):
        return [f"storage '{storage}' does not hold ISO images (content: {info.get('content')})"]
    if spec.iso_volume not in facts.isos(spec.node, storage):
        return [
            f"ISO {spec.iso_volume} is not on storage '{storage}' of {spec.node}; "
            f"run 'proxshift iso upload {spec.cluster}' first"
        ]
    return []


def _is_disk(key: str) -> bool:
    return is_disk_slot(key) and key != INSTALL_ISO_SLOT
