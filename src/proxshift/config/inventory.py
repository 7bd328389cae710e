"""The inventory: pydantic models of what a user writes, and the clusters and nodes derived from it."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from proxshift.config.model_errors import closest, join_location
from proxshift.config.post_install import (
    DEFAULT_HOOK_TIMEOUT,
    Duration,
    Hooks,
    PostInstall,
    merge_hooks,
    post_install_for,
)
from proxshift.errors import Problem, UserInputError

Role = Literal["master", "worker"]
ClusterType = Literal["sno", "multi_node"]


class _Spec(BaseModel):
    # Unknown keys are kept so they can be reported as warnings with the closest known key.
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class DiskSpec(_Spec):
    """One VM disk; `size` is in GB, as the predecessor wrote it."""

    storage: str
    size: int
    backup: bool | None = None
    ssd: bool | None = None
    iothread: bool | None = None
    discard: bool | None = None
    wwn: str | None = None


class NicSpec(_Spec):
    """One VM network interface."""

    model: str = "virtio"
    mac: str | None = None
    bridge: str = "vmbr0"
    tag: int | None = None
    firewall: bool | None = None
    mtu: int | None = None


class NodeSpec(_Spec):
    """A host's settings after variable precedence: all < clusters < <cluster> < host."""

    pve_node: str = Field(validation_alias=AliasChoices("pve_node", "node"))
    vmid: int
    memory: int
    cores: int
    sockets: int = 1
    cpu: str = "host"
    boot: str = "order=scsi0;ide2"
    iso_image: str | None = None
    onboot: bool = True
    scsihw: str = "virtio-scsi-single"
    numa: bool = False
    ostype: str = "l26"
    bios: Literal["seabios", "ovmf"] = "seabios"
    secure_boot: bool = False
    efidisk_storage: str | None = None
    wwn: str | None = None
    role: Role | None = None
    ip: ipaddress.IPv4Address | None = None
    mac: str | None = None
    interface_name: str | None = None
    disks: dict[str, DiskSpec] = Field(min_length=1)
    nics: dict[str, NicSpec] = Field(min_length=1)
    node_labels: dict[str, str] = Field(default_factory=dict)  # on this host's Node, after the install


class ClusterVars(_Spec):
    """Settings that belong to a whole cluster."""

    cluster_type: ClusterType | None = None
    ocp_version: str
    base_ip: ipaddress.IPv4Address | None = None
    api_vip: ipaddress.IPv4Address | None = None
    ingress_vip: ipaddress.IPv4Address | None = None
    base_domain: str | None = None
    acm_labels: dict[str, str | None] = Field(default_factory=dict)  # null removes one of proxshift's defaults
    clusterset: str = "default"
    # After the install (config/post_install.py): post_install is merged over the site config's key by key
    # at every level (validated with the rules, `post_install_problems`); the others override the site config's.
    post_install: dict[str, Any] | None = None
    hooks: Hooks | None = None
    hook_timeout: Duration | None = None
    extra_manifests_dir: str | None = None


# Keys that change what happens after the install (or, for extra manifests, count by their content):
# not part of the fingerprint the install phases' inputs are made of (engine/state.py).
POST_INSTALL_CLUSTER_KEYS = frozenset({"post_install", "hooks", "hook_timeout", "extra_manifests_dir"})
POST_INSTALL_HOST_KEYS = frozenset({"node_labels"})


HOST_KEYS = frozenset(NodeSpec.model_fields) | {"node"}
CLUSTER_KEYS = frozenset(ClusterVars.model_fields)
DISK_KEYS = frozenset(DiskSpec.model_fields)
NIC_KEYS = frozenset(NicSpec.model_fields)


@dataclass(frozen=True)
class Node:
    """One VM of a cluster with every derived value resolved."""

    name: str
    cluster: str
    index: int
    role: Role
    ip: ipaddress.IPv4Address | None
    mac: str | None
    fqdn: str
    root_wwn: str | None
    spec: NodeSpec
    location: str
    origins: Mapping[str, str] = field(default_factory=dict)

    def where(self, key: str, *rest: str) -> str:
        """The inventory location where `key` of this node was set (or would be)."""
        return join_location(self.origins.get(key, self.location), key, *rest)

    @property
    def vcpus(self) -> int:
        return self.spec.cores * self.spec.sockets


@dataclass(frozen=True)
class Cluster:
    """One cluster of the inventory."""

    name: str
    type: ClusterType
    vars: ClusterVars
    nodes: tuple[Node, ...]
    base_domain: str | None
    location: str
    origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def masters(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role == "master")

    @property
    def workers(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role == "worker")

    @property
    def topology(self) -> str:
        if self.type == "sno":
            return "SNO"
        if not self.workers and len(self.masters) == 3:
            return "compact"
        return "HA"

    @property
    def topology_label(self) -> str:
        if self.topology == "SNO":
            return "SNO"
        counts = f"{len(self.masters)} masters, {len(self.workers)} worker{'s' if len(self.workers) != 1 else ''}"
        return f"{self.topology} ({counts})"

    @property
    def rendezvous_ip(self) -> ipaddress.IPv4Address | None:
        return self.masters[0].ip if self.masters else None

    @property
    def api_address(self) -> ipaddress.IPv4Address | None:
        return self.rendezvous_ip if self.type == "sno" else self.vars.api_vip

    @property
    def ingress_address(self) -> ipaddress.IPv4Address | None:
        return self.rendezvous_ip if self.type == "sno" else self.vars.ingress_vip

    @property
    def pve_nodes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n.spec.pve_node for n in self.nodes))

    def where(self, key: str) -> str:
        return join_location(self.origins.get(key, f"{self.location}.vars"), key)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    # -- after the install: the site config's defaults, with this cluster's keys over them ----------------

    def post_install(self, defaults: PostInstall) -> PostInstall:
        """The site config's post_install with this cluster's merged over it, {{ cluster_name }} filled in."""
        return post_install_for(defaults, self)

    def hooks(self, defaults: Hooks) -> Hooks:
        return merge_hooks(defaults, self.vars.hooks)

    def hook_timeout(self, default: float | None) -> float:
        return self.vars.hook_timeout or default or DEFAULT_HOOK_TIMEOUT

    def node_labels(self, defaults: PostInstall, node: Node) -> dict[str, str]:
        """The labels proxshift wants on a host's Node: the cluster's, then the host's (which win)."""
        return {**self.post_install(defaults).node_labels, **node.spec.node_labels}

    def extra_manifests_dir(self, root: Path) -> Path:
        """`<root>/manifests/<cluster>/`, or the inventory var `extra_manifests_dir` (relative to the root)."""
        named = self.vars.extra_manifests_dir
        return root / Path(named).expanduser() if named else root / "manifests" / self.name


@dataclass
class Inventory:
    """All clusters of one inventory file, plus every problem found while reading it."""

    file: str
    clusters: dict[str, Cluster]
    problems: list[Problem]
    lines: dict[str, int]
    broken_clusters: set[str] = field(default_factory=set)

    def line_of(self, location: str) -> int | None:
        parts = location.split(".")
        while parts:
            line = self.lines.get(".".join(parts))
            if line is not None:
                return line
            parts.pop()
        return None

    def cluster(self, name: str) -> Cluster:
        if name in self.clusters:
            return self.clusters[name]
        known = ", ".join(self.clusters) or "none"
        guess = closest(name, self.clusters)
        hint = f"did you mean '{guess}'? Known clusters: {known}" if guess else f"known clusters: {known}"
        if name in self.broken_clusters:
            raise UserInputError(f"cluster '{name}' has errors in {self.file}", "run 'proxshift validate' to see them")
        raise UserInputError(f"unknown cluster '{name}' in {self.file}", hint)
