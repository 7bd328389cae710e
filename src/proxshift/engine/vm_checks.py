"""What Proxmox must allow and hold before a VM is created: the credentials' privileges, and nodes,
storages, bridges, boot order and ISO, which PVE itself checks late or not at all."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from proxshift.clients.proxmox.options import option, split_options
from proxshift.clients.transport import CONNECTIONS
from proxshift.config.pve_keys import INSTALL_ISO_SLOT, is_disk_slot
from proxshift.engine.vm_run import in_parallel
from proxshift.engine.vmspec import NET_KEY, VmSpec, missing_boot_devices
from proxshift.errors import ProxshiftError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.clients.proxmox.cluster import Guest

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
    """The Proxmox side the checks look at: the credentials' privileges, the guests, the nodes, a node's
    storages, bridges and ISO images, the SDN vnets' zones. Each is read at most once, even when checks
    running in parallel ask for it at the same moment (the later ones wait for the first read)."""

    def __init__(self, prox: Proxmox) -> None:
        self.prox = prox
        self._lock = threading.Lock()
        self._facts: dict[tuple[str, ...], _Once] = {}

    def _once(self, key: tuple[str, ...], read: Callable[[], Any]) -> Any:
        with self._lock:
            fact = self._facts.setdefault(key, _Once(read))
        return fact.value()

    def read_together(self, *reads: Callable[[], object]) -> None:
        """Make these reads at once (each answer kept for when a check asks for it)."""
        in_parallel(list(reads), lambda read: read())

    def read_ahead(self, reads: list[Callable[[], object]], guesses: list[Callable[[], object]]) -> None:
        """Make these reads at once, before the checks that ask for them: `reads`, which they are sure to ask
        for, and `guesses`, which they may not. A read that fails fails here, as it would in the checks (made
        again there, a hung node would cost its timeouts twice); a guess that fails is left unkept: a check
        that does need it reads it again and meets the error there, in its own words."""
        unkept: list[Callable[[], object]] = [partial(_suppressed, guess) for guess in guesses]
        in_parallel([*reads, *unkept], lambda read: read(), at_once=CONNECTIONS)

    def privileges(self) -> dict[str, set[str]]:
        held: dict[str, set[str]] = self._once(("privileges",), self.prox.cluster.privileges)
        return held

    def guests(self) -> dict[int, Guest]:
        guests: dict[int, Guest] = self._once(("guests",), self.prox.cluster.guests)
        return guests

    def nodes(self) -> dict[str, str]:
        nodes: dict[str, str] = self._once(("nodes",), self.prox.cluster.nodes)
        return nodes

    def online(self, node: str) -> bool:
        return self.nodes().get(node) == "online"

    def storages(self, node: str) -> dict[str, dict[str, Any]]:
        storages: dict[str, dict[str, Any]] = self._once(("storages", node), lambda: self.prox.storage.storages(node))
        return storages

    def bridges(self, node: str) -> dict[str, str]:
        bridges: dict[str, str] = self._once(("bridges", node), lambda: self.prox.cluster.bridges(node))
        return bridges

    def isos(self, node: str, storage: str) -> set[str]:
        isos: set[str] = self._once(("isos", node, storage), lambda: set(self.prox.storage.iso_content(node, storage)))
        return isos

    def vnet_zones(self) -> dict[str, str]:
        zones: dict[str, str] = self._once(("vnet_zones",), self.prox.cluster.vnet_zones)
        return zones


def _suppressed(read: Callable[[], object]) -> None:
    with contextlib.suppress(ProxshiftError):
        read()


class _Once:
    """One read, made by the first thread that asks; a failed read is made again by the next one."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._done = False
        self._value: Any = None

    def value(self) -> Any:
        with self._lock:
            if not self._done:
                self._value = self._read()
                self._done = True
        return self._value


def missing_privileges(specs: list[VmSpec], facts: NodeFacts, iso_upload: bool = False) -> list[str]:
    """Privileges the credentials lack for these VMs, named with the path that needs them."""
    held = facts.privileges()

    def has(privilege: str, path: str) -> bool:
        parts = path.strip("/").split("/")
        prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(privilege in held.get(prefix, set()) for prefix in prefixes)

    def lacking(privileges: tuple[str, ...], path: str) -> list[str]:
        return [f"{p} on {path}" for p in privileges if not has(p, path)]

    # SDN.Use on every zone (a role on /, say) needs no look at the bridges.
    check_bridges = not has("SDN.Use", "/sdn/zones")

    def missing_for(spec: VmSpec) -> list[str]:
        missing = lacking(VM_PRIVILEGES, f"/vms/{spec.vmid}")
        for storage in {str(v).split(":")[0] for k, v in spec.params.items() if _is_disk(k)}:
            missing += lacking(STORAGE_PRIVILEGES, f"/storage/{storage}")
        missing += lacking(NODE_PRIVILEGES, f"/nodes/{spec.node}")
        if iso_upload and spec.iso_volume:
            missing += lacking(ISO_PRIVILEGES, f"/storage/{spec.iso_volume.split(':')[0]}")
        if check_bridges and facts.online(spec.node):
            for path in bridge_paths(spec, facts.bridges(spec.node), facts.vnet_zones):
                missing += lacking(BRIDGE_PRIVILEGES, path)
        return missing

    # With the bridges to look at, the VMs' nodes are read at once; the answer keeps the VMs' order.
    per_vm = in_parallel(specs, missing_for) if check_bridges else [missing_for(spec) for spec in specs]
    return list(dict.fromkeys(m for missing in per_vm for m in missing))


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
    """What fakepve (and PVE at create time) would not catch: nodes, storages, bridges, boot order, ISO.

    Each VM's checks run in parallel (what they read is read once), the problems come in the VMs' order.
    """
    nodes = facts.nodes()
    checks: tuple[Callable[[NodeFacts, VmSpec], list[str]], ...] = (
        _devices,
        _boot,
        (lambda facts, spec: _iso(facts, spec) if spec.iso_volume and iso_present else []),
    )
    online = [spec for spec in specs if nodes.get(spec.node) == "online"]
    facts.read_ahead(*_node_reads(facts, online, iso_present))
    found = iter(in_parallel([(spec, check) for spec in online for check in checks], lambda c: c[1](facts, c[0])))
    problems: list[str] = []
    for spec in specs:
        where = f"{spec.host} (vmid {spec.vmid})"
        if spec.node not in nodes:
            problems.append(f"{where}: Proxmox node '{spec.node}' does not exist (nodes: {', '.join(sorted(nodes))})")
        elif nodes[spec.node] != "online":
            problems.append(f"{where}: Proxmox node '{spec.node}' is {nodes[spec.node] or 'not online'}")
        else:
            problems += [f"{where}: {problem}" for _ in checks for problem in next(found)]
    return problems


def _node_reads(
    facts: NodeFacts, specs: list[VmSpec], iso_present: bool
) -> tuple[list[Callable[[], object]], list[Callable[[], object]]]:
    """What the checks below read on each node, so that it goes out in one round trip rather than two:
    the storages and the bridges, which they read for sure, and (a guess) the content of the ISO's storage,
    which they read only once the storages show it holds ISOs (where it does not, the read fails unkept)."""
    reads: dict[tuple[str, ...], Callable[[], object]] = {}
    guesses: dict[tuple[str, ...], Callable[[], object]] = {}
    for spec in specs:
        node = spec.node
        reads[("storages", node)] = partial(facts.storages, node)
        if any(NET_KEY.fullmatch(key) and option(str(value), "bridge") for key, value in spec.params.items()):
            reads[("bridges", node)] = partial(facts.bridges, node)  # as _devices asks
        if spec.iso_volume and iso_present:
            storage = spec.iso_volume.partition(":")[0]
            guesses[("isos", node, storage)] = partial(facts.isos, node, storage)
    return list(reads.values()), list(guesses.values())


def _boot(facts: NodeFacts, spec: VmSpec) -> list[str]:
    del facts
    return [
        f"boot order names {device}, which the VM does not have (boot: {spec.params['boot']})"
        for device in missing_boot_devices(spec)
    ]


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
