"""Derivations: precedence, roles, IPs, MACs, FQDNs, WWNs, cluster type and topology."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.errors import InvalidInput
from tests.conftest import PREDECESSOR, ProjectFiles


def _load(project: ProjectFiles):  # type: ignore[no-untyped-def]
    root = project.write()
    return load_project(discover_paths(root))


def test_predecessor_files_load_with_only_warnings() -> None:
    paths = discover_paths(Path("/nonexistent"), PREDECESSOR / "site-config.yaml", PREDECESSOR / "clusters.yml")
    project = load_project(paths)
    assert list(project.inventory.clusters) == ["ocp", "ocp3", "ocp-sno1", "ocp-sno2", "ocp-sno3"]
    assert all(not p.is_error for p in project.warnings)
    # What it really gets wrong: SNO disks below 120 GB, DNS servers that are ocp's own node IPs; and its
    # local GitOps tree and backup directory, which post_install and Vault replace.
    assert {p.location for p in project.warnings} == {
        "clusters.ocp-sno2.hosts.master-sno2.disks.scsi0.size",
        "clusters.ocp-sno3.hosts.master-sno3.disks.scsi0.size",
        "network_defaults.dns_servers.0",
        "network_defaults.dns_servers.1",
        "gitops_root",
        "backup_dir",
    }


def test_predecessor_topologies_and_derived_nodes() -> None:
    paths = discover_paths(Path("/nonexistent"), PREDECESSOR / "site-config.yaml", PREDECESSOR / "clusters.yml")
    inv = load_project(paths).inventory
    assert {n: c.topology_label for n, c in inv.clusters.items()} == {
        "ocp": "HA (3 masters, 3 workers)",
        "ocp3": "HA (3 masters, 1 worker)",
        "ocp-sno1": "SNO",
        "ocp-sno2": "SNO",
        "ocp-sno3": "SNO",
    }
    ocp = inv.clusters["ocp"]
    assert [str(n.ip) for n in ocp.nodes] == [f"192.168.1.{i}" for i in range(10, 16)]
    assert [n.role for n in ocp.nodes] == ["master"] * 3 + ["worker"] * 3
    assert ocp.nodes[0].fqdn == "ocp-node1.ocp.homelab.local"
    assert ocp.nodes[0].root_wwn is None
    assert ocp.nodes[3].root_wwn == "0x5000c50000000004"
    assert str(ocp.rendezvous_ip) == "192.168.1.10"
    assert str(inv.clusters["ocp-sno1"].api_address) == "192.168.1.50"


def test_host_in_two_clusters_is_two_definitions() -> None:
    """Ansible merged ocp-node6 into one host; proxshift keeps each cluster's own settings."""
    paths = discover_paths(Path("/nonexistent"), PREDECESSOR / "site-config.yaml", PREDECESSOR / "clusters.yml")
    inv = load_project(paths).inventory
    in_ocp = inv.clusters["ocp"].node("ocp-node6")
    in_ocp3 = inv.clusters["ocp3"].node("ocp-node6")
    assert (in_ocp.spec.cores, list(in_ocp.spec.disks), in_ocp.spec.iso_image) == (
        10,
        ["scsi0", "scsi1"],
        "your_nfs:iso/ocp-agent.x86_64.iso",
    )
    assert (in_ocp3.spec.cores, list(in_ocp3.spec.disks), in_ocp3.spec.iso_image) == (
        12,
        ["scsi0"],
        "your_nfs:iso/ocp3-agent.x86_64.iso",
    )
    assert (str(in_ocp.ip), str(in_ocp3.ip)) == ("192.168.1.15", "192.168.1.33")


def test_variable_precedence_all_clusters_cluster_host(project: ProjectFiles) -> None:
    project.inventory["all"]["vars"] = {"memory": 1111, "cores": 1, "sockets": 3}
    project.inventory["all"]["children"]["clusters"]["vars"] = {"memory": 2222, "cores": 2}
    project.cluster("multi")["vars"]["memory"] = 3333
    for host in project.cluster("multi")["hosts"].values():
        del host["memory"], host["cores"]
    project.host("multi", "m-node1")["memory"] = 4444
    inv = _load(project).inventory
    nodes = inv.clusters["multi"].nodes
    assert [n.spec.memory for n in nodes] == [4444, 3333, 3333, 3333]
    assert {n.spec.cores for n in nodes} == {2}
    assert {n.spec.sockets for n in nodes} == {3}
    assert inv.clusters["sno"].nodes[0].spec.memory == 32768


def test_host_dicts_replace_rather_than_merge(project: ProjectFiles) -> None:
    """Ansible's default hash_behaviour=replace: a host's disks replace the cluster's."""
    cluster = project.cluster("multi")
    cluster["vars"]["disks"] = {"scsi0": {"storage": "ceph", "size": 200}, "scsi1": {"storage": "ceph", "size": 50}}
    for host in cluster["hosts"].values():
        del host["disks"]
    project.host("multi", "m-node4")["disks"] = {"virtio0": {"storage": "local-lvm", "size": 150}}
    nodes = _load(project).inventory.clusters["multi"].nodes
    assert list(nodes[0].spec.disks) == ["scsi0", "scsi1"]
    assert list(nodes[3].spec.disks) == ["virtio0"]


def test_explicit_role_ip_and_mac_win(project: ProjectFiles) -> None:
    host = project.host("multi", "m-node1")
    host.update(role="worker", ip="10.0.0.99", mac="BC:24:11:AA:BB:CC")
    project.host("multi", "m-node4")["role"] = "master"
    nodes = _load(project).inventory.clusters["multi"].nodes
    assert [n.role for n in nodes] == ["worker", "master", "master", "master"]
    assert str(nodes[0].ip) == "10.0.0.99"
    assert nodes[0].mac == "BC:24:11:AA:BB:CC"
    assert str(nodes[1].ip) == "10.0.0.11"  # position-based IPs are unaffected


def test_rendezvous_is_first_master_even_when_not_first_host(project: ProjectFiles) -> None:
    project.host("multi", "m-node1")["role"] = "worker"
    project.host("multi", "m-node4")["role"] = "master"
    cluster = _load(project).inventory.clusters["multi"]
    assert str(cluster.rendezvous_ip) == "10.0.0.11"


def test_wwn_from_host_else_first_disk(project: ProjectFiles) -> None:
    project.host("multi", "m-node1")["disks"]["scsi0"]["wwn"] = "0x5000c50000000001"
    project.host("multi", "m-node2")["disks"]["scsi0"]["wwn"] = "0x5000c50000000002"
    project.host("multi", "m-node2")["wwn"] = "0x5000c500000000ff"
    nodes = _load(project).inventory.clusters["multi"].nodes
    assert [n.root_wwn for n in nodes] == ["0x5000c50000000001", "0x5000c500000000ff", None, None]


def test_node_is_accepted_for_pve_node(project: ProjectFiles) -> None:
    host = project.host("sno", "sno-node1")
    host["node"] = host.pop("pve_node")
    assert _load(project).inventory.clusters["sno"].nodes[0].spec.pve_node == "pve1"


@pytest.mark.parametrize(("count", "expected"), [(1, "sno"), (3, "multi_node"), (4, "multi_node")])
def test_cluster_type_inferred_from_node_count(project: ProjectFiles, count: int, expected: str) -> None:
    cluster = project.cluster("multi")
    del cluster["vars"]["cluster_type"]
    cluster["hosts"] = dict(list(cluster["hosts"].items())[:count])
    if count == 1:
        del cluster["vars"]["api_vip"], cluster["vars"]["ingress_vip"]
    assert _load(project).inventory.clusters["multi"].type == expected


def test_compact_topology(project: ProjectFiles) -> None:
    cluster = project.cluster("multi")
    cluster["hosts"] = dict(list(cluster["hosts"].items())[:3])
    c = _load(project).inventory.clusters["multi"]
    assert (c.topology, c.topology_label) == ("compact", "compact (3 masters, 0 workers)")


def test_mac_defaults_to_first_nic_when_no_net0(project: ProjectFiles) -> None:
    host = project.host("sno", "sno-node1")
    host["nics"] = {"net1": host["nics"].pop("net0")}
    assert _load(project).inventory.clusters["sno"].nodes[0].mac == "BC:24:11:00:00:01"


def test_invalid_input_carries_every_problem(project: ProjectFiles) -> None:
    project.host("multi", "m-node1")["vmid"] = 1
    with pytest.raises(InvalidInput) as caught:
        _load(project)
    assert [p.location for p in caught.value.problems if p.is_error] == ["clusters.multi.hosts.m-node1.vmid"]


def test_base_ip_arithmetic(project: ProjectFiles) -> None:
    nodes = _load(project).inventory.clusters["multi"].nodes
    assert [n.ip for n in nodes] == [ipaddress.IPv4Address("10.0.0.10") + i for i in range(4)]
