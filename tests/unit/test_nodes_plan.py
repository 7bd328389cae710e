"""engine/nodes_plan.py: the version gate, which hosts are added (workers only), and their VMs' ISO and boot order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxshift.config.inventory import Cluster
from proxshift.config.paths import discover_paths
from proxshift.config.project import Project, load_project
from proxshift.engine.nodes_plan import add_nodes_view, iso_name, running_version, select_hosts
from proxshift.engine.vm_plan import specs_for
from proxshift.errors import UserInputError
from tests.conftest import PREDECESSOR


@pytest.fixture(scope="module")
def project() -> Project:
    paths = discover_paths(Path("/nonexistent"), PREDECESSOR / "site-config.yaml", PREDECESSOR / "clusters.yml")
    return load_project(paths)


@pytest.fixture
def ocp(project: Project) -> Cluster:
    return project.cluster("ocp")


class FakeKube:
    def __init__(self, version: dict[str, Any] | None) -> None:
        self.version = version

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        assert (api_version, kind, name) == ("config.openshift.io/v1", "ClusterVersion", "version")
        return self.version


def _version(desired: str, progressing: bool = False, message: str = "") -> dict[str, Any]:
    return {
        "status": {
            "desired": {"version": desired},
            "conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Progressing", "status": "True" if progressing else "False", "message": message},
            ],
        }
    }


# -- the cluster as it runs ---------------------------------------------------------------------------


def test_a_settled_417_or_later_cluster_is_accepted() -> None:
    assert running_version(FakeKube(_version("4.19.1")), "ocp") == "4.19.1"  # type: ignore[arg-type]
    assert running_version(FakeKube(_version("4.17.0")), "ocp") == "4.17.0"  # type: ignore[arg-type]


@pytest.mark.parametrize("desired", ["4.16.30", "4.9.0", "3.11.0", ""])
def test_a_cluster_older_than_417_is_refused(desired: str) -> None:
    with pytest.raises(UserInputError, match=r"adding nodes needs 4\.17 or later") as raised:
        running_version(FakeKube(_version(desired)), "ocp")  # type: ignore[arg-type]
    assert raised.value.exit_code == 2


def test_a_progressing_cluster_is_refused() -> None:
    message = "Working towards 4.19.2: 106 of 890 done (11% complete)"
    with pytest.raises(UserInputError) as raised:
        running_version(FakeKube(_version("4.19.2", progressing=True, message=message)), "ocp")  # type: ignore[arg-type]
    assert raised.value.message == f"ocp is changing (ClusterVersion Progressing: {message})"
    assert raised.value.exit_code == 2


def test_a_cluster_without_clusterversion_is_refused() -> None:
    with pytest.raises(UserInputError, match="has no ClusterVersion"):
        running_version(FakeKube(None), "ocp")  # type: ignore[arg-type]


# -- which hosts ---------------------------------------------------------------------------------------


def _nodes(*names: str) -> dict[str, set[str]]:
    return {name: set() for name in names}


def test_the_hosts_are_those_that_are_not_nodes(ocp: Cluster) -> None:
    hosts, already = select_hosts(ocp, _nodes("ocp-node1", "ocp-node2", "ocp-node3", "ocp-node4"), [])
    assert [h.name for h in hosts] == ["ocp-node5", "ocp-node6"]
    assert already == []  # only hosts named on the command line are reported as Nodes already


def test_a_node_named_by_its_fqdn_counts_as_joined(ocp: Cluster) -> None:
    masters = ("ocp-node1", "ocp-node2", "ocp-node3")
    hosts, _ = select_hosts(ocp, _nodes(*masters, "ocp-node4.ocp.homelab.local", "ocp-node5", "ocp-node6"), [])
    assert hosts == []


def test_named_hosts_only(ocp: Cluster) -> None:
    nodes = _nodes("ocp-node1", "ocp-node2", "ocp-node3", "ocp-node4")
    hosts, already = select_hosts(ocp, nodes, ["ocp-node6", "ocp-node4"])
    assert [h.name for h in hosts] == ["ocp-node6"]
    assert already == ["ocp-node4"]


def test_an_unknown_host_is_refused_with_the_closest(ocp: Cluster) -> None:
    with pytest.raises(UserInputError, match="ocp-nod7: not a host of ocp") as raised:
        select_hosts(ocp, {}, ["ocp-nod7"])
    assert raised.value.hint == "did you mean 'ocp-node6'?"


def test_a_control_plane_host_is_refused(ocp: Cluster) -> None:
    nodes = _nodes("ocp-node1", "ocp-node3")
    with pytest.raises(UserInputError, match=r"ocp-node2: control-plane host.*workers only") as raised:
        select_hosts(ocp, nodes, [])
    assert raised.value.exit_code == 2
    with pytest.raises(UserInputError, match="ocp-node2"):
        select_hosts(ocp, nodes, ["ocp-node2", "ocp-node5"])


# -- their VMs -----------------------------------------------------------------------------------------


def test_the_vms_get_the_add_nodes_iso_on_their_iso_storage(ocp: Cluster) -> None:
    view = add_nodes_view(ocp, [ocp.node("ocp-node5"), ocp.node("ocp-node6")])
    assert [n.name for n in view.nodes] == ["ocp-node5", "ocp-node6"]
    specs = specs_for(view)
    assert [s.params["ide2"] for s in specs] == ["your_nfs:iso/ocp-add-nodes.x86_64.iso,media=cdrom"] * 2
    assert specs[0].params["description"] == "managed-by=proxshift cluster=ocp host=ocp-node5"
    assert specs[0].params["boot"] == "order=scsi0;ide2"
    assert iso_name("ocp") == "ocp-add-nodes.x86_64.iso"
    assert [s.vmid for s in specs] == [405, 406]


@pytest.mark.parametrize("boot", ["order=ide2;scsi0", "order=ide2", "cdn", "order=net0;ide2", "order=scsi0"])
def test_a_boot_order_without_a_disk_before_the_cd_is_refused(ocp: Cluster, boot: str) -> None:
    from dataclasses import replace

    node = ocp.node("ocp-node5")
    odd = replace(node, spec=node.spec.model_copy(update={"boot": boot}))
    with pytest.raises(UserInputError, match="must list a disk before ide2"):
        add_nodes_view(ocp, [odd])


def test_a_host_without_an_iso_storage_is_refused(ocp: Cluster) -> None:
    from dataclasses import replace

    node = ocp.node("ocp-node5")
    bare = replace(node, spec=node.spec.model_copy(update={"iso_image": None}))
    with pytest.raises(UserInputError, match="ocp-node5: no iso_image"):
        add_nodes_view(ocp, [bare])


def test_a_new_hosts_vm_made_by_vms_create_is_refused(ocp: Cluster) -> None:
    from types import SimpleNamespace

    from proxshift.clients.proxmox.cluster import Guest
    from proxshift.engine.nodes_plan import refuse_drift
    from proxshift.engine.vmspec import vm_spec
    from tests.unit.test_vmspec import _as_pve_returns

    node = ocp.node("ocp-node6")
    made_by_vms_create = _as_pve_returns(vm_spec(node, ocp).params, 406)  # the install's ISO in its CD drive
    prox = SimpleNamespace(
        cluster=SimpleNamespace(guests=lambda: {406: Guest(406, "qemu", "pve4", node.fqdn, "stopped")}),
        vms=SimpleNamespace(config=lambda pve_node, vmid: made_by_vms_create),
    )
    with pytest.raises(UserInputError) as raised:
        refuse_drift(prox, add_nodes_view(ocp, [node]))  # type: ignore[arg-type]
    assert (
        "ocp-node6 (vmid 406): ide2: volume=your_nfs:iso/ocp-agent.x86_64.iso -> volume=your_nfs:iso/ocp-add-nodes"
        in (raised.value.message)
    )
    assert raised.value.hint is not None and "does not recreate a VM" in raised.value.hint
    made_by_vms_create["ide2"] = "none,media=cdrom"  # ejected: nothing differs
    refuse_drift(prox, add_nodes_view(ocp, [node]))  # type: ignore[arg-type]
