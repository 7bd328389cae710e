"""`nodes add` end to end in the lab: a spare worker joins `ocp`; refusals; dry run; a second run adds nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.lab.csrs import BOOTSTRAPPER, client_csr
from proxshift.lab.lab import Lab
from tests.conftest import CliRunner

FAST = ("--poll-interval", "0.1")
CSR = ("certificates.k8s.io/v1", "CertificateSigningRequest")
SPARE = Path(__file__).parents[1] / "fixtures" / "lab" / "spare-worker.yml"


@pytest.fixture
def lab(predecessor_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    project = load_project(discover_paths(predecessor_root))
    started = Lab(
        project, predecessor_root / ".lab", time_scale=0.0, install_seconds=1.0, operator_seconds=0.3, join_seconds=1.5
    ).start()
    for key, value in started.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield started
    finally:
        started.stop()


def add_spare_worker(root: Path) -> None:
    """The lab's spare worker (tests/fixtures/lab/spare-worker.yml) appended to cluster ocp's hosts."""
    inventory = root / "inventory" / "clusters.yml"
    data = yaml.safe_load(inventory.read_text())
    hosts = data["all"]["children"]["clusters"]["children"]["ocp"]["hosts"]
    hosts.update(yaml.safe_load(SPARE.read_text()))
    inventory.write_text(yaml.safe_dump(data, sort_keys=False))


def _writes(lab: Lab) -> int:
    return len([r for r in lab.pve.requests if r[0] != "GET"])


def _version(lab: Lab, desired: str, progressing: bool) -> None:
    store = lab.clusters["ocp"].kube.store
    conditions = [
        {"type": "Available", "status": "True", "message": f"Done applying {desired}"},
        {"type": "Progressing", "status": str(progressing), "message": "Working towards 4.19.2: 5 of 890 done"},
        {"type": "Failing", "status": "False", "message": ""},
    ]
    store.set_status("config.openshift.io/v1", "ClusterVersion", "version", {"desired": {"version": desired}})
    store.set_status("config.openshift.io/v1", "ClusterVersion", "version", {"conditions": conditions})


def _csrs(lab: Lab) -> dict[str, dict[str, Any]]:
    store = lab.clusters["ocp"].kube.store
    return {c["metadata"]["name"]: c for c in store.list(store.type_of(*CSR), None)}


def _approved(csr: dict[str, Any]) -> bool:
    return any(c["type"] == "Approved" for c in (csr.get("status") or {}).get("conditions") or [])


def _refused_before_anything_changes(lab: Lab, cli: CliRunner, root: str) -> None:
    _version(lab, "4.16.3", progressing=False)
    old = cli("--root", root, "nodes", "add", "ocp")
    assert old.code == 2 and "ocp runs OpenShift 4.16.3; adding nodes needs 4.17 or later" in old.err
    _version(lab, "4.19.1", progressing=True)
    busy = cli("--root", root, "nodes", "add", "ocp")
    assert busy.code == 2 and "ocp is changing (ClusterVersion Progressing: Working towards 4.19.2" in busy.err
    _version(lab, "4.19.1", progressing=False)


def _dry_run_changes_nothing(lab: Lab, cli: CliRunner, root: str, install_dir: Path) -> None:
    writes = _writes(lab)
    plan = cli("--root", root, "nodes", "add", "ocp", "--dry-run")
    assert plan.code == 0, plan.err
    assert "add        ocp-node7 (worker, 192.168.1.16, vmid 407 on pve4)" in plan.out
    assert re.search(
        r"run        KUBECONFIG=<temporary 0600 copy> \S+/oc adm node-image create --dir \S+/add-nodes/\d{8}T\d{6}Z "
        r"--registry-config <temporary 0600 copy of the pull secret> --report",
        plan.out,
    )
    assert "upload     your_nfs:iso/ocp-add-nodes.x86_64.iso on pve4" in plan.out
    assert "create     VM ocp-node7 (vmid 407 on pve4): vmid is free" in plan.out
    assert "           ide2=your_nfs:iso/ocp-add-nodes.x86_64.iso,media=cdrom" in plan.out
    assert _writes(lab) == writes and not (install_dir / "add-nodes").exists() and _csrs(lab) == {}


def _joined(lab: Lab, install_dir: Path) -> None:
    csrs = _csrs(lab)
    approved = sorted((c["spec"]["signerName"], c["spec"]["username"]) for c in csrs.values() if _approved(c))
    assert approved == [
        ("kubernetes.io/kube-apiserver-client-kubelet", BOOTSTRAPPER),
        ("kubernetes.io/kubelet-serving", "system:node:ocp-node7"),
    ]
    assert all(c["status"].get("certificate") for c in csrs.values() if _approved(c))
    assert not _approved(csrs["csr-intruder"]) and not _approved(csrs["csr-node1"])
    node = lab.clusters["ocp"].kube.store.find("v1", "Node", "ocp-node7")
    assert node is not None and "node-role.kubernetes.io/worker" in node["metadata"]["labels"]
    vm = lab.pve.vm(407)
    assert vm is not None and vm.status == "running" and vm.node == "pve4"
    assert vm.config["ide2"].startswith("none") and vm.config["boot"] == "order=scsi0;ide2"
    assert "managed-by=proxshift cluster=ocp host=ocp-node7" in vm.config["description"]
    uploads = json.loads((install_dir / "uploads.json").read_text())
    assert [u["volid"] for u in uploads].count("your_nfs:iso/ocp-add-nodes.x86_64.iso") == 1
    (run,) = (install_dir / "add-nodes").iterdir()
    assert sorted(p.name for p in run.iterdir()) == sorted(
        ["nodes-config.yaml", "node.x86_64.iso", "oc.log", "report.json", "result.json"]
    )
    record = json.loads((run / "result.json").read_text())
    assert record["outcome"] == "done" and [a["kind"] for a in record["approved"]] == ["client", "serving"]
    assert {p["csr"] for p in record["left_pending"]} == {"csr-intruder", "csr-node1"}
    assert yaml.safe_load((run / "nodes-config.yaml").read_text())["hosts"][0]["hostname"] == "ocp-node7"
    assert not (install_dir / ".lock").exists()


def test_a_spare_worker_joins_ocp(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    root, install_dir = str(predecessor_root), predecessor_root / "ocp_install" / "ocp"
    assert cli("--root", root, "provision", "ocp", "--skip", "acm", *FAST).code == 0
    nothing = cli("--root", root, "nodes", "add", "ocp")
    assert nothing.code == 0 and "nothing to add: every host of ocp in the inventory is a Node" in nothing.err
    add_spare_worker(predecessor_root)
    _refused_before_anything_changes(lab, cli, root)
    _dry_run_changes_nothing(lab, cli, root, install_dir)

    # Two CSRs nobody should approve are pending before the run.
    store = lab.clusters["ocp"].kube.store
    for name, host in (("csr-intruder", "intruder"), ("csr-node1", "ocp-node1")):
        store.create(store.type_of(*CSR), client_csr(name, host))
    result = cli("--root", root, "nodes", "add", "ocp", *FAST)
    assert result.code == 0, result.err
    for line in (
        "  ocp-node7: installing: ",
        "  ocp-node7: client certificate approved; waiting for its Node",
        "  ocp-node7: Ready",
        "not approved: CSR csr-intruder: for system:node:intruder, not a host this run adds",
        "not approved: CSR csr-node1: for system:node:ocp-node1, not a host this run adds",
        "✓ ocp-node7 joined ocp and Ready",
    ):
        assert line in result.err, line
    _joined(lab, install_dir)

    # The VM matches the inventory (the ejected CD is no drift), and a second run adds nothing.
    status = cli("--root", root, "status", "ocp", "--json")
    row = next(r for r in json.loads(status.out)["vms"] if r["host"] == "ocp-node7")
    assert (row["ours"], row["drift"]) == (True, [])
    writes = _writes(lab)
    again = cli("--root", root, "nodes", "add", "ocp")
    assert again.code == 0 and "nothing to add" in again.err
    assert _writes(lab) == writes and len(list((install_dir / "add-nodes").iterdir())) == 1

    # deprovision removes the added worker's VM and the add-nodes ISO, as the uploads ledger says.
    assert "iso/ocp-add-nodes.x86_64.iso" in lab.pve.storages["your_nfs"]["volumes"]
    gone = cli("--root", root, "deprovision", "ocp", "--yes", "--keep-acm")
    assert gone.code == 0, gone.err
    assert lab.pve.vm(407) is None
    assert "iso/ocp-add-nodes.x86_64.iso" not in lab.pve.storages["your_nfs"].get("volumes", {})


def test_a_control_plane_host_is_refused(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    root = str(predecessor_root)
    assert cli("--root", root, "provision", "ocp-sno2", "--skip", "acm", *FAST).code == 0
    store = lab.clusters["ocp-sno2"].kube.store
    store.delete(store.type_of("v1", "Node"), None, "master-sno2")
    refused = cli("--root", root, "nodes", "add", "ocp-sno2", "--dry-run")
    assert refused.code == 2
    assert "master-sno2: control-plane host(s) that are not Nodes of ocp-sno2; nodes add adds workers" in refused.err


def test_a_run_directory_that_cannot_be_made_is_an_error_naming_it(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s08: add-nodes/<UTC>/ or its files unwritable (the disk full, read-only) was 'unexpected OSError inside
    proxshift'. Here add-nodes is a file (root ignores permission bits; a file in the way is refused all the same)."""
    root, install_dir = str(predecessor_root), predecessor_root / "ocp_install" / "ocp"
    assert cli("--root", root, "provision", "ocp", "--skip", "acm", *FAST).code == 0
    add_spare_worker(predecessor_root)
    (install_dir / "add-nodes").write_text("")
    writes = _writes(lab)
    failed = cli("--root", root, "nodes", "add", "ocp", *FAST)
    assert failed.code == 1, failed.err
    assert "unexpected" not in failed.err
    assert f"error: cannot make {install_dir / 'add-nodes'}/" in failed.err
    assert "make room on the disk or make the directory writable, then run again" in failed.err
    assert _writes(lab) == writes and lab.pve.vm(407) is None
