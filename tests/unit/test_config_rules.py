"""config/rules.py: one failing inventory per validation rule: exit 2, the place named, the fix given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import CliRunner, ProjectFiles

Mutation = Callable[[ProjectFiles], None]


def _set(path: str, value: Any) -> Mutation:
    """Set a value at `cluster.host.key.key...` (host may be 'vars')."""

    def apply(p: ProjectFiles) -> None:
        cluster, host, *keys = path.split(".")
        target = p.cluster(cluster)["vars"] if host == "vars" else p.host(cluster, host)
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value

    return apply


def _delete(path: str) -> Mutation:
    def apply(p: ProjectFiles) -> None:
        cluster, host, *keys = path.split(".")
        target = p.cluster(cluster)["vars"] if host == "vars" else p.host(cluster, host)
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return apply


def _site(key: str, value: Any) -> Mutation:
    def apply(p: ProjectFiles) -> None:
        p.site["network_defaults"][key] = value

    return apply


def _add_host(cluster: str, name: str, vmid: int, mac: str) -> Mutation:
    def apply(p: ProjectFiles) -> None:
        template = dict(next(iter(p.cluster(cluster)["hosts"].values())))
        template["vmid"] = vmid
        template["nics"] = {"net0": {"model": "virtio", "mac": mac, "bridge": "vmbr0"}}
        p.cluster(cluster)["hosts"][name] = template

    return apply


def _drop_hosts(cluster: str, keep: int) -> Mutation:
    def apply(p: ProjectFiles) -> None:
        hosts = p.cluster(cluster)["hosts"]
        p.cluster(cluster)["hosts"] = dict(list(hosts.items())[:keep])

    return apply


def _rename_cluster(old: str, new: str) -> Mutation:
    def apply(p: ProjectFiles) -> None:
        children = p.inventory["all"]["children"]["clusters"]["children"]
        children[new] = children.pop(old)

    return apply


H = "clusters.multi.hosts.m-node2"
CASES: dict[str, tuple[Mutation, str, str]] = {
    "missing vmid": (_delete("multi.m-node2.vmid"), f"{H}.vmid", "100 to 999999999"),
    "memory not a number": (_set("multi.m-node2.memory", "lots"), f"{H}.memory", "memory in MB"),
    "missing ocp_version": (_delete("multi.vars.ocp_version"), "clusters.multi.vars.ocp_version", "quote the version"),
    "bad cluster name": (_rename_cluster("multi", "Multi_1"), "clusters.Multi_1", "lowercase letters"),
    "bad host name": (
        lambda p: p.cluster("sno")["hosts"].update({"SNO_1": p.cluster("sno")["hosts"].pop("sno-node1")}),
        "clusters.sno.hosts.SNO_1",
        "lowercase letters",
    ),
    "version not X.Y.Z": (_set("multi.vars.ocp_version", "4.19"), "clusters.multi.vars.ocp_version", '"4.19.1"'),
    "vmid too low": (_set("multi.m-node2.vmid", 99), f"{H}.vmid", "100 to 999999999"),
    "vmid too high": (_set("multi.m-node2.vmid", 1_000_000_000), f"{H}.vmid", "100 to 999999999"),
    "memory zero": (_set("multi.m-node2.memory", 0), f"{H}.memory", "positive"),
    "cores negative": (_set("multi.m-node2.cores", -2), f"{H}.cores", "positive"),
    "sockets zero": (_set("multi.m-node2.sockets", 0), f"{H}.sockets", "positive"),
    "bad disk key": (
        _set("multi.m-node2.disks.nvme0", {"storage": "local-lvm", "size": 10}),
        f"{H}.disks.nvme0",
        "scsi0-30",
    ),
    "disk slot out of range": (
        _set("multi.m-node2.disks.sata6", {"storage": "local-lvm", "size": 10}),
        f"{H}.disks.sata6",
        "sata0-5",
    ),
    "disk size zero": (_set("multi.m-node2.disks.scsi0.size", 0), f"{H}.disks.scsi0.size", "positive whole number"),
    "disk without storage": (
        _delete("multi.m-node2.disks.scsi0.storage"),
        f"{H}.disks.scsi0.storage",
        "Proxmox storage",
    ),
    "bad nic key": (
        _set("multi.m-node2.nics.eth0", {"model": "virtio", "mac": "BC:24:11:00:09:09"}),
        f"{H}.nics.eth0",
        "net0 to net31",
    ),
    "unknown nic model": (_set("multi.m-node2.nics.net0.model", "virtio-net"), f"{H}.nics.net0.model", "use virtio"),
    "vlan tag zero": (_set("multi.m-node2.nics.net0.tag", 0), f"{H}.nics.net0.tag", "1 to 4094"),
    "vlan tag too high": (_set("multi.m-node2.nics.net0.tag", 4095), f"{H}.nics.net0.tag", "1 to 4094"),
    "mac syntax": (_set("multi.m-node2.nics.net0.mac", "BC:24:11:00:01"), f"{H}.nics.net0.mac", "six hex pairs"),
    "multicast mac": (
        _set("multi.m-node2.nics.net0.mac", "01:24:11:00:01:02"),
        f"{H}.nics.net0.mac",
        "first byte even",
    ),
    "wwn syntax": (_set("multi.m-node2.wwn", "0x5000c500"), f"{H}.wwn", "16 hex digits"),
    "disk wwn syntax": (
        _set("multi.m-node2.disks.scsi0.wwn", "5000c50000000004"),
        f"{H}.disks.scsi0.wwn",
        "16 hex digits",
    ),
    "cpu without x86-64-v2": (_set("multi.m-node2.cpu", "kvm64"), f"{H}.cpu", "cpu: host"),
    "duplicate vmid in cluster": (_set("multi.m-node2.vmid", 401), f"{H}.vmid", "its own vmid"),
    "duplicate mac in cluster": (
        _set("multi.m-node2.nics.net0.mac", "bc:24:11:00:01:01"),
        f"{H}.nics.net0.mac",
        "its own MAC",
    ),
    "duplicate ip in cluster": (_set("multi.m-node2.ip", "10.0.0.10"), f"{H}.ip", "its own IP"),
    "vmid clash across clusters": (_set("multi.m-node2.vmid", 301), f"{H}.vmid", "same name"),
    "mac clash across clusters": (
        _set("multi.m-node2.nics.net0.mac", "BC:24:11:00:00:01"),
        f"{H}.nics.net0.mac",
        "same name",
    ),
    "ip clash across clusters": (_set("multi.m-node2.ip", "10.0.0.50"), f"{H}.ip", "same name"),
    "shared host name but another VM": (
        _add_host("multi", "sno-node1", 499, "BC:24:11:00:00:01"),
        "clusters.multi.hosts.sno-node1.nics.net0.mac",
        "same VM: same name, vmid and pve_node",
    ),
    "ip outside subnet": (_set("multi.m-node2.ip", "10.0.1.5"), f"{H}.ip", "inside the subnet"),
    "ip is network address": (_set("multi.m-node2.ip", "10.0.0.0"), f"{H}.ip", "host address"),
    "ip is broadcast": (_set("multi.m-node2.ip", "10.0.0.255"), f"{H}.ip", "host address"),
    "ip is gateway": (_set("multi.m-node2.ip", "10.0.0.1"), f"{H}.ip", "no other device"),
    "vip outside subnet": (
        _set("multi.vars.api_vip", "192.168.9.9"),
        "clusters.multi.vars.api_vip",
        "inside the subnet",
    ),
    "vips equal": (_set("multi.vars.ingress_vip", "10.0.0.20"), "clusters.multi.vars.ingress_vip", "its own free"),
    "vip is a node ip": (
        _set("multi.vars.api_vip", "10.0.0.11"),
        "clusters.multi.vars.api_vip",
        "addresses of their own",
    ),
    "sno with two hosts": (
        _add_host("sno", "sno-node2", 302, "BC:24:11:00:00:02"),
        "clusters.sno.hosts",
        "remove the extra hosts",
    ),
    "sno host as worker": (_set("sno.sno-node1.role", "worker"), "clusters.sno.hosts.sno-node1.role", "remove role"),
    "two-node cluster": (_drop_hosts("multi", 2), "clusters.multi.hosts", "at least 3 masters"),
    "six masters": (
        lambda p: (
            [_add_host("multi", f"m-node{i}", 400 + i, f"BC:24:11:00:01:0{i}")(p) for i in (5, 6)]
            and [_set(f"multi.m-node{i}.role", "master")(p) for i in (4, 5, 6)]
            and None
        ),
        "clusters.multi.hosts",
        "3, 4 or 5",
    ),
    "multi-node without api_vip": (_delete("multi.vars.api_vip"), "clusters.multi.vars.api_vip", "free address"),
    "multi-node without ingress_vip": (
        _delete("multi.vars.ingress_vip"),
        "clusters.multi.vars.ingress_vip",
        "free address",
    ),
    "bad role": (_set("multi.m-node2.role", "controlplane"), f"{H}.role", "role: master"),
    "bad cluster_type": (_set("multi.vars.cluster_type", "ha"), "clusters.multi.vars.cluster_type", "multi_node"),
    "no ip at all": (_delete("multi.vars.base_ip"), "clusters.multi.hosts.m-node1", "base_ip"),
    "iso image not a volume": (
        _set("multi.m-node2.iso_image", "/mnt/nfs/iso/agent.iso"),
        f"{H}.iso_image",
        "<storage>:iso/<name>.iso",
    ),
    "secure boot without ovmf": (_set("multi.m-node2.secure_boot", True), f"{H}.secure_boot", "bios: ovmf"),
    "subnet with host bits": (_site("subnet", "10.0.0.5/24"), "network_defaults.subnet", "CIDR"),
    "gateway outside subnet": (_site("gateway", "10.9.0.1"), "network_defaults.gateway", "inside"),
    "dns server not an ip": (_site("dns_servers", ["dns.example"]), "network_defaults.dns_servers.0", "IPv4"),
    "bad base domain": (_site("base_domain", "Lab_Example"), "network_defaults.base_domain", "DNS domain"),
    "overlapping cluster network": (
        _site("cluster_cidr", "10.0.0.0/14"),
        "network_defaults.cluster_cidr",
        "do not overlap",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rule_rejects_with_location_and_fix(name: str, project: ProjectFiles, cli: CliRunner) -> None:
    mutate, location, fix = CASES[name]
    mutate(project)
    root = project.write()
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}

    result = cli("--root", root, "validate")

    assert result.code == 2, result.err
    error_lines = [line for line in result.err.splitlines() if line.startswith("error:")]
    matching = [
        i for i, line in enumerate(result.err.splitlines()) if line.startswith("error:") and f": {location}:" in line
    ]
    assert matching, f"no error at {location}:\n{result.err}"
    following = result.err.splitlines()[matching[0] + 1]
    assert following.strip().startswith("fix:") and fix in following, following
    assert error_lines[-1].startswith("error: ") and "found" in error_lines[-1]
    assert "Traceback" not in result.err
    # Nothing changed anywhere: validate only reads.
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_base_inventory_is_valid(project: ProjectFiles, cli: CliRunner) -> None:
    result = cli("--root", project.write(), "validate")
    assert result.code == 0, result.err
    assert "2 clusters valid: sno, multi" in result.err


def test_every_problem_is_reported_at_once(project: ProjectFiles, cli: CliRunner) -> None:
    _set("multi.m-node2.nics.net0.mac", "zz")(project)
    _set("multi.m-node3.vmid", 5)(project)
    _set("sno.sno-node1.cpu", "qemu64")(project)
    result = cli("--root", project.write(), "validate")
    assert result.code == 2
    assert "3 problems found" in result.err
    for place in (f"{H}.nics.net0.mac", "clusters.multi.hosts.m-node3.vmid", "clusters.sno.hosts.sno-node1.cpu"):
        assert place in result.err


def test_error_names_file_and_line(project: ProjectFiles, cli: CliRunner) -> None:
    _set("multi.m-node2.nics.net0.tag", 5000)(project)
    root = project.write()
    text = (root / "inventory" / "clusters.yml").read_text().splitlines()
    result = cli("--root", root, "validate")
    line = next(line for line in result.err.splitlines() if "nics.net0.tag" in line)
    number = int(line.split("inventory/clusters.yml:")[1].split(":")[0])
    assert "tag: 5000" in text[number - 1]


def test_value_inherited_from_cluster_vars_is_reported_where_it_is_set(project: ProjectFiles, cli: CliRunner) -> None:
    for host in project.cluster("multi")["hosts"].values():
        del host["cores"]
    project.cluster("multi")["vars"]["cores"] = "eight"
    result = cli("--root", project.write(), "validate")
    assert result.code == 2
    assert "clusters.multi.vars.cores:" in result.err


def test_unknown_key_is_a_warning_with_the_closest_key(project: ProjectFiles, cli: CliRunner) -> None:
    _set("multi.m-node2.memroy", 1024)(project)
    result = cli("--root", project.write(), "validate")
    assert result.code == 0
    assert "warning: inventory/clusters.yml" in result.err
    assert f"{H}.memroy: is not a known key and is ignored" in result.err
    assert "did you mean 'memory'?" in result.err


def test_strict_turns_warnings_into_errors(project: ProjectFiles, cli: CliRunner) -> None:
    _set("multi.m-node2.nics.net0.modle", "virtio")(project)
    root = project.write()
    assert cli("--root", root, "validate").code == 0
    result = cli("--root", root, "validate", "--strict")
    assert result.code == 2
    assert "did you mean 'model'?" in result.err


def test_below_minimum_is_a_warning(project: ProjectFiles, cli: CliRunner) -> None:
    _set("multi.m-node4.memory", 4096)(project)
    result = cli("--root", project.write(), "validate")
    assert result.code == 0
    assert (
        "clusters.multi.hosts.m-node4.memory: 4096 MB is below OpenShift's minimum of 8192 MB for a worker"
        in result.err
    )


def test_validate_selected_cluster_ignores_problems_elsewhere(project: ProjectFiles, cli: CliRunner) -> None:
    _set("multi.m-node2.nics.net0.mac", "zz")(project)
    root = project.write()
    assert cli("--root", root, "validate", "sno").code == 0
    assert cli("--root", root, "validate", "multi").code == 2


def test_unknown_cluster_suggests_closest(project: ProjectFiles, cli: CliRunner) -> None:
    result = cli("--root", project.write(), "validate", "mutli")
    assert result.code == 2
    assert "unknown cluster 'mutli'" in result.err
    assert "did you mean 'multi'?" in result.err
    assert "sno, multi" in result.err
