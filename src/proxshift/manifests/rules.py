"""The installer's cross-field rules, run on the parsed manifests before any VM exists.

The JSON Schemas (manifests/check.py) cover single fields; each function below is one rule, or
one group of rules checked in the same pass, marked ✗ in shared/schemas/RULES.md for SNO on
platform none and multi-node on baremetal. Every finding states its own severity.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from proxshift.config.install_dir import MANIFEST_NAMES

INSTALL_CONFIG, AGENT_CONFIG = MANIFEST_NAMES
OVN_RESERVED = tuple(ipaddress.ip_network(n) for n in ("100.64.0.0/16", "100.88.0.0/16", "169.254.0.0/17"))
DOCKER_DEFAULT = ipaddress.ip_network("172.17.0.0/16")

Severity = Literal["error", "warning"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Finding:
    """One broken rule: where in which manifest, what, the rule's name, the fix, how bad."""

    manifest: str
    pointer: str
    message: str
    rule: str
    fix: str
    severity: Severity


def error(manifest: str, pointer: str, message: str, rule: str, fix: str) -> Finding:
    """A finding the installer refuses (or that would break the install)."""
    return Finding(manifest, pointer, message, rule, fix, "error")


def warning(manifest: str, pointer: str, message: str, rule: str, fix: str) -> Finding:
    """A finding the installer only warns about."""
    return Finding(manifest, pointer, message, rule, fix, "warning")


class Manifests:
    """The two parsed manifests, and the parts of them that several rules read."""

    def __init__(self, install: Mapping[str, Any], agent: Mapping[str, Any]) -> None:
        self.install = install
        self.agent = agent
        self.networking: Mapping[str, Any] = install.get("networking") or {}
        self.platform: Mapping[str, Any] = install.get("platform") or {}
        self.baremetal: Mapping[str, Any] = self.platform.get("baremetal") or {}
        self.control_replicas: Any = (install.get("controlPlane") or {}).get("replicas")
        self.compute_replicas = sum(
            int(p.get("replicas") or 0) for p in install.get("compute") or [] if isinstance(p, dict)
        )
        self.hosts: list[Mapping[str, Any]] = [h for h in agent.get("hosts") or [] if isinstance(h, dict)]
        self.host_ips = {index: _host_ips(h) for index, h in enumerate(self.hosts)}
        self.machine = _networks(self.networking.get("machineNetwork"), "cidr")
        self.service = _networks(self.networking.get("serviceNetwork"), None)
        self.cluster = _networks(self.networking.get("clusterNetwork"), "cidr")

    @property
    def network_groups(self) -> tuple[tuple[str, list[tuple[str, Network | None]]], ...]:
        return (("machineNetwork", self.machine), ("serviceNetwork", self.service), ("clusterNetwork", self.cluster))

    @property
    def machine_networks(self) -> list[Network]:
        return [n for _, n in self.machine if n is not None]

    def outside_machine_network(self, value: Any) -> bool:
        address = _ip(value)
        nets = self.machine_networks
        return address is not None and bool(nets) and not any(address in n for n in nets)


Rule = Callable[[Manifests], Iterable[Finding]]


# -- pools and hosts ------------------------------------------------------------------------------


def sno_platform(m: Manifests) -> Iterator[Finding]:
    """RULES.md §3.10: a single-node cluster runs on platform none or external."""
    if m.control_replicas == 1 and "none" not in m.platform and "external" not in m.platform:
        yield error(
            INSTALL_CONFIG,
            "platform",
            "a single-node cluster needs platform none",
            "SNO platform",
            "set cluster_type: sno",
        )


def baremetal_replicas(m: Manifests) -> Iterator[Finding]:
    """RULES.md §3.9: baremetal takes 3, 4 or 5 control-plane replicas (installconfig.go)."""
    if "baremetal" in m.platform and m.control_replicas not in (3, 4, 5):
        yield error(
            INSTALL_CONFIG,
            "controlPlane/replicas",
            f"{m.control_replicas} control-plane replicas on baremetal",
            "replicas",
            "use 3, 4 or 5 masters",
        )


def host_counts(m: Manifests) -> Iterator[Finding]:
    """RULES.md §2.12: host roles against the replicas (nmstateconfig.go, validateHostCount)."""
    masters = [h for h in m.hosts if h.get("role") == "master"]
    workers = [h for h in m.hosts if h.get("role") == "worker"]
    control = m.control_replicas
    if isinstance(control, int) and len(masters) != control:
        yield error(
            AGENT_CONFIG,
            "hosts",
            f"{len(masters)} master hosts for {control} control-plane replicas",
            "host count",
            "make the roles match the replicas",
        )
    if len(workers) != m.compute_replicas:
        yield error(
            AGENT_CONFIG,
            "hosts",
            f"{len(workers)} worker hosts for {m.compute_replicas} compute replicas",
            "host count",
            "make the roles match the replicas",
        )


def rendezvous_ip(m: Manifests) -> Iterator[Finding]:
    """RULES.md §2.10-11: the rendezvous IP is one of the hosts' addresses, and not a worker's."""
    rendezvous = m.agent.get("rendezvousIP")
    owner = next((i for i, ips in m.host_ips.items() if rendezvous in ips), None)
    if owner is None:
        yield error(
            AGENT_CONFIG,
            "rendezvousIP",
            f"{rendezvous} is not the address of any host",
            "rendezvousIP",
            "it must be the first master's IP",
        )
    elif m.hosts[owner].get("role") != "master":
        yield error(
            AGENT_CONFIG,
            "rendezvousIP",
            f"{rendezvous} belongs to a worker",
            "rendezvousIP not on a worker",
            "make the first host a master",
        )


def unique_macs_and_hostnames(m: Manifests) -> Iterator[Finding]:
    """RULES.md §2.7 and §2.15: MACs compared case-insensitively (the installer misses that), hostnames."""
    seen_macs: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for index, host in enumerate(m.hosts):
        for iface in host.get("interfaces") or []:
            mac = str(iface.get("macAddress", "")).lower()
            if mac in seen_macs and seen_macs[mac] != index:
                yield error(
                    AGENT_CONFIG,
                    f"hosts/{index}/interfaces",
                    f"MAC {mac} is also used by host {seen_macs[mac]}",
                    "unique MACs",
                    "give every host its own MAC",
                )
            seen_macs.setdefault(mac, index)
        name = str(host.get("hostname"))
        if name in seen_names:
            yield error(
                AGENT_CONFIG, f"hosts/{index}", f"hostname {name} appears twice", "unique hostnames", "rename the host"
            )
        seen_names.setdefault(name, index)


# -- networks -------------------------------------------------------------------------------------


def network_ranges(m: Manifests) -> Iterator[Finding]:
    """RULES.md §3.12: canonical network addresses, clear of OVN's ranges; 172.17/16 only warns."""
    for label, nets in m.network_groups:
        for index, (text, net) in enumerate(nets):
            pointer = f"networking/{label}/{index}"
            if net is None:
                yield error(
                    INSTALL_CONFIG,
                    pointer,
                    f"{text} is not a network address (host bits set?)",
                    "canonical networks",
                    "write the network address, e.g. 10.128.0.0/14",
                )
                continue
            for reserved in OVN_RESERVED:
                if net.overlaps(reserved):
                    yield error(
                        INSTALL_CONFIG,
                        pointer,
                        f"{net} overlaps OVN-Kubernetes' reserved {reserved}",
                        "OVN reserved ranges",
                        "pick another range",
                    )
            if net.overlaps(DOCKER_DEFAULT):
                yield warning(
                    INSTALL_CONFIG,
                    pointer,
                    f"{net} overlaps 172.17.0.0/16 (container default bridge)",
                    "172.17 overlap (warning)",
                    "pick another range if hosts run containers there",
                )


def networks_do_not_overlap(m: Manifests) -> Iterator[Finding]:
    """RULES.md §3.12: machine, service and cluster networks do not overlap one another."""
    machine, service, cluster = m.network_groups
    for (a_label, a_nets), (b_label, b_nets) in ((machine, service), (machine, cluster), (service, cluster)):
        for _, a in a_nets:
            for index, (_, b) in enumerate(b_nets):
                if a is not None and b is not None and a.overlaps(b):
                    yield error(
                        INSTALL_CONFIG,
                        f"networking/{b_label}/{index}",
                        f"{b} overlaps {a_label} {a}",
                        "non-overlapping networks",
                        "pick ranges that do not overlap",
                    )


def service_network_size(m: Manifests) -> Iterator[Finding]:
    """RULES.md §3.13: an IPv4 service network is /12 or smaller."""
    for index, (_, net) in enumerate(m.service):
        if net is not None and net.version == 4 and net.prefixlen < 12:
            yield error(
                INSTALL_CONFIG,
                f"networking/serviceNetwork/{index}",
                f"{net} is larger than /12",
                "service network size",
                "use a /12 or smaller service network",
            )


def host_prefix(m: Manifests) -> Iterator[Finding]:
    """RULES.md §3.14: each cluster network's hostPrefix fits inside it."""
    for index, entry in enumerate(m.networking.get("clusterNetwork") or []):
        net = m.cluster[index][1] if index < len(m.cluster) else None
        prefix = entry.get("hostPrefix") if isinstance(entry, dict) else None
        if net is not None and isinstance(prefix, int) and (prefix < net.prefixlen or prefix > net.max_prefixlen):
            yield error(
                INSTALL_CONFIG,
                f"networking/clusterNetwork/{index}/hostPrefix",
                f"hostPrefix {prefix} does not fit inside {net}",
                "hostPrefix",
                "use a hostPrefix longer than the network's",
            )


# -- addresses ------------------------------------------------------------------------------------


def vips_in_machine_network(m: Manifests) -> Iterator[Finding]:
    """RULES.md §3.16: every API and ingress VIP lies inside a machine network."""
    for key in ("apiVIPs", "ingressVIPs"):
        for index, vip in enumerate(m.baremetal.get(key) or []):
            if m.outside_machine_network(vip):
                yield error(
                    INSTALL_CONFIG,
                    f"platform/baremetal/{key}/{index}",
                    f"{vip} is outside the machine network",
                    "VIP in machineNetwork",
                    "use an address inside network_defaults.subnet",
                )


def distinct_vips(m: Manifests) -> Iterator[Finding]:
    """RULES.md §3.16: no API VIP equals an ingress VIP."""
    if set(m.baremetal.get("apiVIPs") or []) & set(m.baremetal.get("ingressVIPs") or []):
        yield error(
            INSTALL_CONFIG,
            "platform/baremetal/ingressVIPs",
            "an ingress VIP equals an API VIP",
            "distinct VIPs",
            "use two addresses",
        )


def host_ips_in_machine_network(m: Manifests) -> Iterator[Finding]:
    """RULES.md §3.17: assisted-service's belongs-to-machine-cidr, checked before any VM exists."""
    for index, ips in m.host_ips.items():
        for ip in ips:
            if m.outside_machine_network(ip):
                yield error(
                    AGENT_CONFIG,
                    f"hosts/{index}",
                    f"{ip} is outside the machine network",
                    "host IP in machineNetwork",
                    "use an address inside network_defaults.subnet",
                )


def interface_names(m: Manifests) -> Iterator[Finding]:
    """RULES.md §2.14: an interface the host's networkConfig does not configure (the installer warns)."""
    for index, host in enumerate(m.hosts):
        declared = {str(i.get("name")) for i in host.get("interfaces") or []}
        configured = {str(i.get("name")) for i in ((host.get("networkConfig") or {}).get("interfaces") or [])}
        if host.get("networkConfig") and declared - configured:
            yield warning(
                AGENT_CONFIG,
                f"hosts/{index}/interfaces",
                f"interface {sorted(declared - configured)[0]} is not in networkConfig",
                "interface names (warning)",
                "use the same name in both places",
            )


# In the order their findings are reported.
CROSS_FIELD_RULES: tuple[Rule, ...] = (
    sno_platform,
    baremetal_replicas,
    host_counts,
    rendezvous_ip,
    unique_macs_and_hostnames,
    network_ranges,
    networks_do_not_overlap,
    service_network_size,
    host_prefix,
    vips_in_machine_network,
    distinct_vips,
    host_ips_in_machine_network,
    interface_names,
)


def check_data(install: Any, agent: Any) -> Iterator[Finding]:
    """Every cross-field rule over the parsed manifests; nothing when either is not a mapping."""
    if not isinstance(install, dict) or not isinstance(agent, dict):
        return
    manifests = Manifests(install, agent)
    for rule in CROSS_FIELD_RULES:
        yield from rule(manifests)


def _host_ips(host: Mapping[str, Any]) -> list[str]:
    ips = []
    for iface in (host.get("networkConfig") or {}).get("interfaces") or []:
        for family in ("ipv4", "ipv6"):
            for address in (iface.get(family) or {}).get("address") or []:
                if isinstance(address, dict) and address.get("ip"):
                    ips.append(str(address["ip"]))
    return ips


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        return None


def _networks(entries: Any, key: str | None) -> list[tuple[str, Network | None]]:
    result: list[tuple[str, Network | None]] = []
    for entry in entries or []:
        text = str(entry.get(key) if key and isinstance(entry, dict) else entry)
        try:
            result.append((text, ipaddress.ip_network(text)))
        except ValueError:
            result.append((text, None))
    return result
