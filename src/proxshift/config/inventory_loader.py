"""Read the predecessor's Ansible-style inventory: variable precedence, derivations, every problem at once."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from proxshift.config.inventory import (
    CLUSTER_KEYS,
    DISK_KEYS,
    HOST_KEYS,
    NIC_KEYS,
    Cluster,
    ClusterType,
    ClusterVars,
    Inventory,
    Node,
    NodeSpec,
    Role,
)
from proxshift.config.model_errors import closest, join_location, problems_from_validation_error
from proxshift.config.yamlio import LineMap, load_yaml
from proxshift.errors import Problem, UserInputError


def _logical_lines(lines: LineMap) -> dict[str, int]:
    """Map YAML key paths to the locations users read: clusters.<c>.hosts.<h>..."""
    logical: dict[str, int] = {}
    for path, line in lines.items():
        if path[:4] == ("all", "children", "clusters", "children") and len(path) > 4:
            logical[".".join(("clusters", *path[4:]))] = line
        elif path[:3] == ("all", "children", "clusters"):
            logical[".".join(("clusters", *path[3:]))] = line
        elif path[:1] == ("all",):
            logical[".".join(path)] = line
    return logical


def _mapping(value: Any, file: str, location: str, problems: list[Problem]) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    problems.append(
        Problem(file, location, f"must be a mapping, not {type(value).__name__}", "indent the keys below it")
    )
    return {}


def _unknown_key_warnings(keys: Mapping[str, Any], known: frozenset[str], file: str, where: str) -> list[Problem]:
    warnings = []
    for key in keys:
        if key not in known:
            guess = closest(str(key), known)
            fix = f"did you mean '{guess}'?" if guess else "remove it; see docs/inventory.md for the known keys"
            warnings.append(
                Problem(file, join_location(where, str(key)), "is not a known key and is ignored", fix, "warning")
            )
    return warnings


def _nested_unknown_warnings(raw: Mapping[str, Any], file: str, where: str) -> list[Problem]:
    warnings: list[Problem] = []
    for group, known in (("disks", DISK_KEYS), ("nics", NIC_KEYS)):
        entries = raw.get(group)
        if isinstance(entries, dict):
            for name, entry in entries.items():
                if isinstance(entry, dict):
                    warnings += _unknown_key_warnings(entry, known, file, join_location(where, group, str(name)))
    return warnings


def _derive_nodes(
    cluster_name: str,
    cluster_vars: ClusterVars,
    hosts: list[tuple[str, NodeSpec, dict[str, str]]],
    cluster_type: ClusterType,
    base_domain: str | None,
    file: str,
    problems: list[Problem],
) -> tuple[Node, ...]:
    nodes = []
    default_masters = 1 if cluster_type == "sno" else 3
    for index, (name, spec, origins) in enumerate(hosts):
        location = f"clusters.{cluster_name}.hosts.{name}"
        role: Role = spec.role or ("master" if index < default_masters else "worker")
        ip = spec.ip
        if ip is None and cluster_vars.base_ip is not None:
            try:
                ip = cluster_vars.base_ip + index
            except ipaddress.AddressValueError:
                problems.append(
                    Problem(
                        file,
                        f"clusters.{cluster_name}.vars.base_ip",
                        f"{cluster_vars.base_ip} + {index} is past the end of IPv4",
                        "pick a lower base_ip",
                    )
                )
        elif ip is None:
            problems.append(
                Problem(
                    file,
                    location,
                    "has no IP address",
                    f"set base_ip in clusters.{cluster_name}.vars, or ip: on this host",
                )
            )
        first_nic = next(iter(spec.nics.values()), None)
        mac = spec.mac or (spec.nics["net0"].mac if "net0" in spec.nics else first_nic.mac if first_nic else None)
        first_disk = next(iter(spec.disks.values()), None)
        root_wwn = spec.wwn or (first_disk.wwn if first_disk else None)
        fqdn = f"{name}.{cluster_name}.{base_domain}" if base_domain else f"{name}.{cluster_name}"
        nodes.append(Node(name, cluster_name, index, role, ip, mac, fqdn, root_wwn, spec, location, origins))
    return tuple(nodes)


def load_inventory(path: Path, shown: str, default_base_domain: str | None) -> Inventory:
    """Read the predecessor's Ansible-style inventory; collect problems instead of stopping."""
    raw, yaml_lines = load_yaml(path, shown)
    problems: list[Problem] = []
    lines = _logical_lines(yaml_lines)
    if not isinstance(raw, dict) or not isinstance(raw.get("all"), dict):
        raise UserInputError(f"{shown}: must start with 'all:'", "see docs/inventory.md for the layout")
    top = raw["all"]
    all_vars = _mapping(top.get("vars"), shown, "all.vars", problems)
    children = _mapping(top.get("children"), shown, "all.children", problems)
    group = _mapping(children.get("clusters"), shown, "clusters", problems)
    if "clusters" not in children:
        raise UserInputError(
            f"{shown}: no 'all.children.clusters' group", "put each cluster under all.children.clusters.children"
        )
    group_vars = _mapping(group.get("vars"), shown, "clusters.vars", problems)
    cluster_groups = _mapping(group.get("children"), shown, "clusters.children", problems)

    inventory = Inventory(shown, {}, problems, lines)
    for key, value in cluster_groups.items():
        cluster_name = str(key)
        where = f"clusters.{cluster_name}"
        cluster_raw = _mapping(value, shown, where, problems)
        own_vars = _mapping(cluster_raw.get("vars"), shown, f"{where}.vars", problems)
        hosts_raw = _mapping(cluster_raw.get("hosts"), shown, f"{where}.hosts", problems)
        layers = (("all.vars", all_vars), ("clusters.vars", group_vars), (f"{where}.vars", own_vars))
        before = len([p for p in problems if p.is_error])
        cluster = _load_cluster(cluster_name, layers, hosts_raw, shown, default_base_domain, problems)
        if cluster is None or len([p for p in problems if p.is_error]) > before:
            inventory.broken_clusters.add(cluster_name)
        if cluster is not None:
            inventory.clusters[cluster_name] = cluster
    for layer_name, layer in (("all.vars", all_vars), ("clusters.vars", group_vars)):
        problems += _unknown_key_warnings(layer, HOST_KEYS | CLUSTER_KEYS, shown, layer_name)
    inventory.problems = [
        Problem(p.file, p.location, p.message, p.fix, p.severity, p.line or inventory.line_of(p.location))
        for p in problems
    ]
    return inventory


def _load_cluster(
    name: str,
    layers: tuple[tuple[str, dict[str, Any]], ...],
    hosts_raw: dict[str, Any],
    file: str,
    default_base_domain: str | None,
    problems: list[Problem],
) -> Cluster | None:
    where = f"clusters.{name}"
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for layer_name, layer in layers:
        merged.update(layer)
        origins.update(dict.fromkeys(layer, layer_name))
    own_vars = layers[-1][1]
    problems += _unknown_key_warnings(own_vars, HOST_KEYS | CLUSTER_KEYS, file, f"{where}.vars")
    problems += _nested_unknown_warnings(own_vars, file, f"{where}.vars")
    cluster_values = {k: v for k, v in merged.items() if k in CLUSTER_KEYS}
    try:
        cluster_vars = ClusterVars(**cluster_values)
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, file, origins, f"{where}.vars")
        return None
    if not hosts_raw:
        problems.append(Problem(file, f"{where}.hosts", "has no hosts", "list the cluster's VMs under hosts:"))
        return None
    hosts: list[tuple[str, NodeSpec, dict[str, str]]] = []
    broken = False
    for host_key, host_raw in hosts_raw.items():
        host_name = str(host_key)
        host_where = f"{where}.hosts.{host_name}"
        host_vars = _mapping(host_raw, file, host_where, problems)
        for key in host_vars:
            if key in CLUSTER_KEYS and key not in HOST_KEYS:
                problems.append(
                    Problem(
                        file,
                        join_location(host_where, str(key)),
                        "is a cluster setting and is ignored on a host",
                        f"move it to {where}.vars",
                        "warning",
                    )
                )
        problems += _unknown_key_warnings(
            {k: v for k, v in host_vars.items() if k not in CLUSTER_KEYS}, HOST_KEYS, file, host_where
        )
        problems += _nested_unknown_warnings(host_vars, file, host_where)
        host_origins = {**origins, **dict.fromkeys(host_vars, host_where)}
        values = {k: v for k, v in {**merged, **host_vars}.items() if k in HOST_KEYS}
        try:
            spec = NodeSpec(**values)
        except ValidationError as exc:
            problems += problems_from_validation_error(exc, file, host_origins, host_where)
            broken = True
            continue
        hosts.append((host_name, spec, host_origins))
    if broken:
        return None
    cluster_type: ClusterType = cluster_vars.cluster_type or ("sno" if len(hosts) == 1 else "multi_node")
    base_domain = cluster_vars.base_domain or default_base_domain
    nodes = _derive_nodes(name, cluster_vars, hosts, cluster_type, base_domain, file, problems)
    return Cluster(name, cluster_type, cluster_vars, nodes, base_domain, where, origins)
