"""A cluster the predecessor built, in the lab: adopted, stopped, started and deprovisioned."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from proxshift.lab.lab import Lab
from tests.conftest import CliRunner

ISO = "iso/ocp-sno2-agent.x86_64.iso"


def _installed(lab: Lab, cluster: str, timeout: float = 30.0) -> None:
    """The lab plays the install once the cluster's VMs run; wait until its ClusterVersion is Available."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = lab.clusters[cluster].kube.store.find("config.openshift.io/v1", "ClusterVersion", "version")
        conditions = {c["type"]: c["status"] for c in ((version or {}).get("status") or {}).get("conditions") or []}
        if conditions.get("Available") == "True":
            return
        time.sleep(0.05)
    raise AssertionError(f"the lab's install of {cluster} did not complete")


def test_a_predecessor_cluster_in_the_lab(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    made = cli("--root", predecessor_root, "lab", "predecessor", "ocp-sno2")
    assert made.code == 0, made.err
    vm = lab.pve.vm(302)
    assert vm is not None and vm.status == "running"
    assert "tags" not in vm.config and "description" not in vm.config
    assert ISO in lab.pve.storages["your_nfs"]["volumes"]
    refused = cli("--root", predecessor_root, "start", "ocp-sno2")
    assert refused.code == 2 and "not created by proxshift" in refused.err
    _installed(lab, "ocp-sno2")

    adopted = cli("--root", predecessor_root, "adopt", "ocp-sno2", "--yes")
    assert adopted.code == 0, adopted.err
    assert "✓ master-sno2 (vmid 302): adopted" in adopted.err
    assert "(source: ocp_install/ocp-sno2/auth/)" in adopted.out
    state = json.loads((predecessor_root / "ocp_install" / "ocp-sno2" / "state.json").read_text())
    assert list(state["phases"]) == ["vms", "start", "wait", "credentials"]

    assert cli("--root", predecessor_root, "stop", "ocp-sno2").code == 0
    assert lab.pve.vm(302).status == "stopped"
    assert cli("--root", predecessor_root, "start", "ocp-sno2").code == 0
    assert lab.pve.vm(302).status == "running"
    gone = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes")
    assert gone.code == 0, gone.err
    assert lab.pve.vm(302) is None
    assert ISO in lab.pve.storages["your_nfs"]["volumes"]  # the predecessor's ISO: proxshift did not upload it


def test_lab_predecessor_builds_only_in_the_lab(
    predecessor_root: Path, lab: Lab, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROXSHIFT_CONFIG")  # the user's own site config: its Proxmox is not the lab's
    result = cli("--root", predecessor_root, "lab", "predecessor", "ocp-sno2")
    assert result.code == 2
    assert "the site config in use is not the lab's (.lab/site-config.yaml)" in result.err
    assert lab.pve.vms == []
