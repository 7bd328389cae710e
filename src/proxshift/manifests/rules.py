"""The installer's cross-field rules, run on the parsed manifests before any VM exists.

The JSON Schemas (manifests/check.py) cover single fields; the functions below cover the
cross-field rules marked ✗ in RULES.md for SNO on platform none and multi-node on baremetal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from proxshift.secret import SecretFormatError, check_ca_bundle, check_ssh_public_keys, normalize_pull_secret

OVN_RESERVED = tuple(ipaddress.ip_network(n) for n in ("100.64.0.0/16", "100.88.0.0/16", "169.254.0.0/17"))
DOCKER_DEFAULT = ipaddress.ip_network("172.17.0.0/16")
# Until each rule states its severity, these rules' findings are warnings.
WARNING_RULES = {"172.17 overlap (warning)", "interface names (warning)"}


def check_data(install: Any, agent: Any) -> Iterator[tuple[str, str, str, str, str]]:
    """Cross-field rules; yields (manifest, pointer, message, rule, fix)."""
    ic, ac = "install-config.yaml", "agent-config.yaml"
    if not isinstance(install, dict) or not isinstance(agent, dict):
        return
    networking = install.get("networking") or {}
    platform = install.get("platform") or {}
    control = (install.get("controlPlane") or {}).get("replicas")
    compute = sum(int(p.get("replicas") or 0) for p in install.get("compute") or [] if isinstance(p, dict))
    hosts = [h for h in agent.get("hosts") or [] if isinstance(h, dict)]

    # Replica counts per platform (installconfig.go, pkg/asset/agent/installconfig.go).
    if control == 1 and "none" not in platform and "external" not in platform:
        yield ic, "platform", "a single-node cluster needs platform none", "SNO platform", "set cluster_type: sno"
    if "baremetal" in platform and control not in (3, 4, 5):
        yield (
            ic,
            "controlPlane/replicas",
            f"{control} control-plane replicas on baremetal",
            "replicas",
            "use 3, 4 or 5 masters",
        )

    # Host counts against replicas (nmstateconfig.go, validateHostCount).
    masters = [h for h in hosts if h.get("role") == "master"]
    workers = [h for h in hosts if h.get("role") == "worker"]
    if isinstance(control, int) and len(masters) != control:
        yield (
            ac,
            "hosts",
            f"{len(masters)} master hosts for {control} control-plane replicas",
            "host count",
            "make the roles match the replicas",
        )
    if len(workers) != compute:
        yield (
            ac,
            "hosts",
            f"{len(workers)} worker hosts for {compute} compute replicas",
            "host count",
            "make the roles match the replicas",
        )

    # Rendezvous IP: on a master, and one of the hosts' addresses.
    rendezvous = agent.get("rendezvousIP")
    host_ips = {index: _host_ips(h) for index, h in enumerate(hosts)}
    owner = next((i for i, ips in host_ips.items() if rendezvous in ips), None)
    if owner is None:
        yield (
            ac,
            "rendezvousIP",
            f"{rendezvous} is not the address of any host",
            "rendezvousIP",
            "it must be the first master's IP",
        )
    elif hosts[owner].get("role") != "master":
        yield (
            ac,
            "rendezvousIP",
            f"{rendezvous} belongs to a worker",
            "rendezvousIP not on a worker",
            "make the first host a master",
        )

    # Unique MACs (case-insensitive, which the installer misses) and hostnames.
    seen_macs: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for index, host in enumerate(hosts):
        for iface in host.get("interfaces") or []:
            mac = str(iface.get("macAddress", "")).lower()
            if mac in seen_macs and seen_macs[mac] != index:
                yield (
                    ac,
                    f"hosts/{index}/interfaces",
                    f"MAC {mac} is also used by host {seen_macs[mac]}",
                    "unique MACs",
                    "give every host its own MAC",
                )
            seen_macs.setdefault(mac, index)
        name = str(host.get("hostname"))
        if name in seen_names:
            yield ac, f"hosts/{index}", f"hostname {name} appears twice", "unique hostnames", "rename the host"
        seen_names.setdefault(name, index)

    # Networks: canonical, not overlapping each other or OVN's reserved ranges.
    machine = _networks(networking.get("machineNetwork"), "cidr")
    service = _networks(networking.get("serviceNetwork"), None)
    cluster_nets = _networks(networking.get("clusterNetwork"), "cidr")
    groups = (("machineNetwork", machine), ("serviceNetwork", service), ("clusterNetwork", cluster_nets))
    for label, nets in groups:
        for index, (text, net) in enumerate(nets):
            if net is None:
                yield (
                    ic,
                    f"networking/{label}/{index}",
                    f"{text} is not a network address (host bits set?)",
                    "canonical networks",
                    "write the network address, e.g. 10.128.0.0/14",
                )
                continue
            for reserved in OVN_RESERVED:
                if net.overlaps(reserved):
                    yield (
                        ic,
                        f"networking/{label}/{index}",
                        f"{net} overlaps OVN-Kubernetes' reserved {reserved}",
                        "OVN reserved ranges",
                        "pick another range",
                    )
            if net.overlaps(DOCKER_DEFAULT):
                yield (
                    ic,
                    f"networking/{label}/{index}",
                    f"{net} overlaps 172.17.0.0/16 (container default bridge)",
                    "172.17 overlap (warning)",
                    "pick another range if hosts run containers there",
                )
    for (a_label, a_nets), (b_label, b_nets) in (
        (groups[0], groups[1]),
        (groups[0], groups[2]),
        (groups[1], groups[2]),
    ):
        for _, a in a_nets:
            for index, (_, b) in enumerate(b_nets):
                if a is not None and b is not None and a.overlaps(b):
                    yield (
                        ic,
                        f"networking/{b_label}/{index}",
                        f"{b} overlaps {a_label} {a}",
                        "non-overlapping networks",
                        "pick ranges that do not overlap",
                    )
    for index, (_, net) in enumerate(service):
        if net is not None and net.version == 4 and net.prefixlen < 12:
            yield (
                ic,
                f"networking/serviceNetwork/{index}",
                f"{net} is larger than /12",
                "service network size",
                "use a /12 or smaller service network",
            )
    for index, entry in enumerate(networking.get("clusterNetwork") or []):
        net = cluster_nets[index][1] if index < len(cluster_nets) else None
        prefix = entry.get("hostPrefix") if isinstance(entry, dict) else None
        if net is not None and isinstance(prefix, int) and (prefix < net.prefixlen or prefix > net.max_prefixlen):
            yield (
                ic,
                f"networking/clusterNetwork/{index}/hostPrefix",
                f"hostPrefix {prefix} does not fit inside {net}",
                "hostPrefix",
                "use a hostPrefix longer than the network's",
            )

    # VIPs and host IPs inside the machine network; API and ingress VIPs differ.
    machine_nets = [n for _, n in machine if n is not None]
    baremetal = platform.get("baremetal") or {}
    for key in ("apiVIPs", "ingressVIPs"):
        for index, vip in enumerate(baremetal.get(key) or []):
            address = _ip(vip)
            if address is not None and machine_nets and not any(address in n for n in machine_nets):
                yield (
                    ic,
                    f"platform/baremetal/{key}/{index}",
                    f"{vip} is outside the machine network",
                    "VIP in machineNetwork",
                    "use an address inside network_defaults.subnet",
                )
    if set(baremetal.get("apiVIPs") or []) & set(baremetal.get("ingressVIPs") or []):
        yield (
            ic,
            "platform/baremetal/ingressVIPs",
            "an ingress VIP equals an API VIP",
            "distinct VIPs",
            "use two addresses",
        )
    for index, ips in host_ips.items():
        for ip in ips:
            address = _ip(ip)
            if address is not None and machine_nets and not any(address in n for n in machine_nets):
                yield (
                    ac,
                    f"hosts/{index}",
                    f"{ip} is outside the machine network",
                    "host IP in machineNetwork",
                    "use an address inside network_defaults.subnet",
                )

    # Interface names the NMState config does not define (warning in the installer).
    for index, host in enumerate(hosts):
        declared = {str(i.get("name")) for i in host.get("interfaces") or []}
        configured = {str(i.get("name")) for i in ((host.get("networkConfig") or {}).get("interfaces") or [])}
        if host.get("networkConfig") and declared - configured:
            yield (
                ac,
                f"hosts/{index}/interfaces",
                f"interface {sorted(declared - configured)[0]} is not in networkConfig",
                "interface names (warning)",
                "use the same name in both places",
            )


def secret_findings(install: Any) -> Iterator[tuple[str, str, str, str, str]]:
    if not isinstance(install, dict):
        return
    ic = "install-config.yaml"
    try:
        normalize_pull_secret(install.get("pullSecret", ""))
    except SecretFormatError as exc:
        yield (
            ic,
            "pullSecret",
            f"the pull secret {exc}",
            "pull secret format",
            "store the pull secret unchanged in Vault",
        )
    if install.get("sshKey"):
        try:
            check_ssh_public_keys(str(install["sshKey"]), bool(install.get("fips")))
        except SecretFormatError as exc:
            yield ic, "sshKey", f"the SSH key {exc}", "SSH key format", "store an OpenSSH public key in Vault"
    if install.get("additionalTrustBundle"):
        try:
            check_ca_bundle(str(install["additionalTrustBundle"]))
        except SecretFormatError as exc:
            yield ic, "additionalTrustBundle", f"the CA bundle {exc}", "CA bundle format", "store PEM certificates only"


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


def _networks(entries: Any, key: str | None) -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network | None]]:
    result: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network | None]] = []
    for entry in entries or []:
        text = str(entry.get(key) if key and isinstance(entry, dict) else entry)
        try:
            result.append((text, ipaddress.ip_network(text)))
        except ValueError:
            result.append((text, None))
    return result
