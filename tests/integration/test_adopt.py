"""`adopt` against fakepve: VMs built as the predecessor builds them, mismatches never touched, life after adopt."""

from __future__ import annotations

import io
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxmoxer import ProxmoxAPI

from proxshift.config.paths import discover_paths
from proxshift.config.project import Project, load_project
from proxshift.engine.adopt import apply_adoption, plan_adoption
from proxshift.engine.phases.base import Options, PhaseContext
from proxshift.engine.phases.flow import PHASES
from proxshift.engine.state import State
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.predecessor import build_vm
from proxshift.lab.serving import make_certificates
from tests.conftest import CliRunner
from tests.integration.conftest import VaultFixture
from tests.integration.pve import ISO_NAMES, PveLab

OCP = {401: "ocp-node1", 402: "ocp-node2", 403: "ocp-node3", 404: "ocp-node4", 405: "ocp-node5", 406: "ocp-node6"}
ISO = "iso/ocp-agent.x86_64.iso"
MC = ("cluster.open-cluster-management.io/v1", "ManagedCluster")


@pytest.fixture
def root(predecessor_root: Path, pve_lab: PveLab, monkeypatch: pytest.MonkeyPatch) -> Path:
    pve_lab.configure(predecessor_root)
    for name in ISO_NAMES:
        pve_lab.pve.store_file("your_nfs", name, 1024)
    monkeypatch.setenv("PROXSHIFT_PROXMOX_USER", "root@pam")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_PASSWORD", "secret")
    return predecessor_root


@pytest.fixture
def api(pve_lab: PveLab) -> ProxmoxAPI:
    return ProxmoxAPI("127.0.0.1", port=pve_lab.pve.port, user="root@pam", password="secret", verify_ssl=pve_lab.cafile)


def _project(root: Path) -> Project:
    return load_project(discover_paths(root))


def build(root: Path, api: ProxmoxAPI, cluster: str, skip: tuple[str, ...] = (), **changes: dict[str, Any]) -> None:
    """The cluster's VMs as the predecessor leaves them; `changes[host]` are edits made to one VM since."""
    for node in _project(root).cluster(cluster).nodes:
        if node.name not in skip:
            build_vm(api, node, **changes.get(node.name.replace("-", "_"), {}))


def _start(api: ProxmoxAPI, pve_lab: PveLab, *vmids: int) -> None:
    for vmid in vmids:
        vm = pve_lab.pve.vm(vmid)
        api.nodes(vm.node).qemu(vmid).status.start.post()


def _configs(pve_lab: PveLab) -> dict[int, tuple[dict[str, Any], str]]:
    return {vm.vmid: (dict(vm.config), vm.digest()) for vm in pve_lab.pve.vms}


def _config_writes(pve_lab: PveLab, since: int) -> list[str]:
    return [p for m, p in pve_lab.writes[since:] if m == "PUT" and p.endswith("/config")]


def _iso_present(pve_lab: PveLab) -> bool:
    return ISO in pve_lab.pve.storages["your_nfs"].get("volumes", {})


def test_dry_run_then_adopt_then_stop_start_deprovision(
    root: Path, pve_lab: PveLab, api: ProxmoxAPI, cli: CliRunner
) -> None:
    notes = "Built by ps.provision on 2024-05-02\nowner: platform team"
    build(root, api, "ocp", ocp_node2={"description": notes}, ocp_node3={"description": "rack 4\n"})
    _start(api, pve_lab, *OCP)
    before, built = _configs(pve_lab), len(pve_lab.writes)

    dry = cli("--root", root, "adopt", "ocp", "--dry-run")
    assert dry.code == 0, dry.err
    for vmid, host in OCP.items():
        assert re.search(rf"^{host}\s+{vmid}\s+pve\d\s+adoptable\s+-$", dry.out, re.M), dry.out
    assert "credentials: none: Vault: " in dry.out
    assert "state.json: would record vms, start as done" in dry.out
    assert "dry run: nothing was changed" in dry.err
    assert _configs(pve_lab) == before
    assert _config_writes(pve_lab, built) == []
    assert not (root / "ocp_install" / "ocp").exists()

    result = cli("--root", root, "adopt", "ocp", "--yes")
    assert result.code == 0, result.err
    for vmid, host in OCP.items():
        config = pve_lab.pve.vm(vmid).config
        marker = f"managed-by=proxshift cluster=ocp host={host}"
        # Exactly what `vms create` sends; fakepve keeps an update's tags as sent (PVE sorts them, as on create).
        assert config["tags"] == "proxshift;ocp"
        expected = {402: f"{notes}\n{marker}", 403: f"rack 4\n{marker}"}.get(vmid, marker)
        assert config["description"] == expected
        assert {k: v for k, v in config.items() if k not in ("tags", "description")} == {
            k: v for k, v in before[vmid][0].items() if k not in ("tags", "description")
        }
        assert config["ide2"] == before[vmid][0]["ide2"]  # the predecessor's ISO stays attached
        assert f"✓ {host} (vmid {vmid}): adopted" in result.err
    assert len(_config_writes(pve_lab, built)) == 6
    state = json.loads((root / "ocp_install" / "ocp" / "state.json").read_text())
    assert sorted(state["phases"]) == ["start", "vms"]
    assert state["phases"]["vms"]["by"] == "adopt"

    again = cli("--root", root, "adopt", "ocp", "--yes")
    assert again.code == 0, again.err
    assert again.out.count("already ours") == 6
    assert "nothing to change: ocp is adopted already" in again.err
    assert len(_config_writes(pve_lab, built)) == 6
    assert json.loads((root / "ocp_install" / "ocp" / "state.json").read_text()) == state

    status = cli("--root", root, "status", "ocp", "--json")
    assert [vm["ours"] for vm in json.loads(status.out)["vms"]] == [True] * 6
    assert cli("--root", root, "stop", "ocp").code == 0
    assert {pve_lab.pve.vm(vmid).status for vmid in OCP} == {"stopped"}
    assert cli("--root", root, "start", "ocp").code == 0
    assert {pve_lab.pve.vm(vmid).status for vmid in OCP} == {"running"}
    gone = cli("--root", root, "deprovision", "ocp", "--yes", "--keep-acm")  # no Vault here: no hub to reach
    assert gone.code == 0, gone.err
    assert pve_lab.pve.vms == []
    assert _iso_present(pve_lab)  # proxshift did not upload it: the uploads ledger has no entry for it
    assert not [p for m, p in pve_lab.writes if m == "DELETE" and "/storage/" in p]


def test_mismatched_vms_are_never_touched(root: Path, pve_lab: PveLab, api: ProxmoxAPI, cli: CliRunner) -> None:
    build(
        root,
        api,
        "ocp",
        skip=("ocp-node4",),
        ocp_node1={"net0": "virtio=BC:24:11:00:00:99,bridge=vmbr0,tag=42,firewall=0"},
        ocp_node2={"name": "db-server.homelab.local"},
        ocp_node3={"description": "managed-by=proxshift cluster=ocp3 host=ocp3-node3", "tags": "proxshift;ocp3"},
        ocp_node5={"memory": 40960},
        ocp_node6={"description": "keep me"},
    )
    before, built = _configs(pve_lab), len(pve_lab.writes)

    result = cli("--root", root, "adopt", "ocp", "--yes")
    assert result.code == 1
    assert re.search(r"^ocp-node1\s+401\s+pve1\s+mismatch: no NIC carries 02:08:F3:F5:70:3C", result.out, re.M)
    assert "mismatch: its name is 'db-server.homelab.local', not ocp-node2.ocp.homelab.local or ocp-node2" in result.out
    assert re.search(
        r"^ocp-node3\s+403\s+pve3\s+another cluster's: marked as host ocp3-node3 of cluster ocp3", result.out, re.M
    )
    assert re.search(r"^ocp-node4\s+404\s+pve4\s+missing: no guest has vmid 404", result.out, re.M)
    assert re.search(r"^ocp-node5\s+405\s+pve4\s+adoptable\s+memory: 40960 -> 32768$", result.out, re.M)
    assert "missing: ocp-node4; 'proxshift vms create ocp' creates them" in result.out
    assert "error: not adopted:" in result.err
    for vmid in (401, 402, 403):
        assert f"(vmid {vmid}):" in result.err
        assert _configs(pve_lab)[vmid] == before[vmid]
    assert "404" not in result.err.split("error: not adopted:")[1]
    assert pve_lab.pve.vm(405).config["description"] == "managed-by=proxshift cluster=ocp host=ocp-node5"
    assert pve_lab.pve.vm(406).config["description"] == "keep me\nmanaged-by=proxshift cluster=ocp host=ocp-node6"
    assert sorted(_config_writes(pve_lab, built)) == [
        "/api2/json/nodes/pve4/qemu/405/config",
        "/api2/json/nodes/pve4/qemu/406/config",
    ]
    assert not (root / "ocp_install" / "ocp" / "state.json").exists()  # a VM is missing: no phase is complete


def test_without_a_terminal_adopt_needs_yes(root: Path, pve_lab: PveLab, api: ProxmoxAPI, cli: CliRunner) -> None:
    build(root, api, "ocp-sno1")
    before = _configs(pve_lab)
    result = cli("--root", root, "adopt", "ocp-sno1")
    assert result.code == 2
    assert "needs confirmation" in result.err and "--yes" in result.err
    assert _configs(pve_lab) == before


def test_the_prompt_lists_the_vms_and_no_changes_nothing(
    root: Path, pve_lab: PveLab, api: ProxmoxAPI, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(root, api, "ocp-sno1")
    before = _configs(pve_lab)
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    result = cli("--root", root, "adopt", "ocp-sno1")
    assert result.code == 1
    assert "Mark these VMs as proxshift's VMs of ocp-sno1:\n  master-sno1 (vmid 301 on pve2)\n" in result.err
    assert "aborted, nothing changed" in result.err
    assert _configs(pve_lab) == before


class _Terminal(io.StringIO):
    """Standard input as a terminal that types the given answer."""

    def isatty(self) -> bool:
        return True


def test_a_change_after_the_check_is_never_marked(
    root: Path, pve_lab: PveLab, api: ProxmoxAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(root, api, "ocp")
    project = _project(root)
    plan = plan_adoption(project, "ocp")
    assert [v.verdict for v in plan.vms] == ["adoptable"] * 6
    pve_lab.pve.vm(401).config["name"] = "renamed-meanwhile"  # between the table and the confirmation
    read = plan.prox.vms.config

    def racing(node: str, vmid: int) -> dict[str, Any]:
        config = read(node, vmid)
        if vmid == 402:  # changed between the re-check and the write: the digest no longer matches
            pve_lab.pve.vm(402).config["memory"] = "4096"
        return config

    monkeypatch.setattr(plan.prox.vms, "config", racing)
    apply_adoption(project, plan)
    outcomes = {v.spec.vmid: v.outcome or "" for v in plan.vms}
    assert outcomes[401].startswith("left alone: changed since it was read: its name is 'renamed-meanwhile'")
    assert outcomes[402].startswith("left alone: Proxmox refused updating the config of VM 402")
    assert [outcomes[vmid] for vmid in (403, 404, 405, 406)] == ["adopted"] * 4
    for vmid in (401, 402):
        assert "description" not in pve_lab.pve.vm(vmid).config and "tags" not in pve_lab.pve.vm(vmid).config
    assert len(plan.problems()) == 2


# -- credentials, the cluster's API and the hub ----------------------------------------------------------


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[tuple[KubeApiServer, KubeApiServer]]:
    """(the hub ocp-sno1, the adopted cluster ocp-sno2): two API emulators."""
    hub = KubeApiServer(make_certificates(tmp_path / "hub-pki"), "hub-" + secrets.token_hex(8)).start()
    spoke = KubeApiServer(make_certificates(tmp_path / "spoke-pki"), "spoke-" + secrets.token_hex(8)).start()
    try:
        yield hub, spoke
    finally:
        spoke.stop()
        hub.stop()


def _installed(spoke: KubeApiServer) -> None:
    spoke.store.apply(
        {"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion", "metadata": {"name": "version"}}
    )
    conditions = [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "False"}]
    spoke.store.set_status("config.openshift.io/v1", "ClusterVersion", "version", {"conditions": conditions})


def _joined(hub: KubeApiServer, name: str) -> None:
    hub.store.apply(
        {"apiVersion": MC[0], "kind": MC[1], "metadata": {"name": name}, "spec": {"hubAcceptsClient": True}}
    )
    conditions = [
        {"type": "ManagedClusterJoined", "status": "True"},
        {"type": "ManagedClusterConditionAvailable", "status": "True"},
    ]
    hub.store.set_status(*MC, name, {"conditions": conditions})


@pytest.fixture
def sno2(
    root: Path, api: ProxmoxAPI, pve_lab: PveLab, vault: VaultFixture, clusters: tuple[KubeApiServer, KubeApiServer]
) -> Path:
    """ocp-sno2 as the predecessor leaves it: a running VM, auth/ in the install dir, the hub's credentials in Vault."""
    hub, spoke = clusters
    config = root / "config" / "site-config.yaml"
    config.write_text(
        config.read_text().replace(
            "vault_path: '~/.proxshift/vault-credentials.yml'", f"vault_path: '{vault.mount}/data/openshift'"
        )
    )
    vault.put("openshift/ocp-sno1", {"api": hub.url, "kubeconfig": hub.kubeconfig("ocp-sno1"), "kubeadmin": "x"})
    build(root, api, "ocp-sno2")
    _start(api, pve_lab, 302)
    auth = root / "ocp_install" / "ocp-sno2" / "auth"
    auth.mkdir(parents=True)
    (auth / "kubeconfig").write_text(spoke.kubeconfig("ocp-sno2"))
    (auth / "kubeadmin-password").write_text("predecessor-password\n")
    _installed(spoke)
    _joined(hub, "ocp-sno2")
    return root


def test_credentials_come_over_and_complete_phases_are_recorded(
    sno2: Path, vault: VaultFixture, clusters: tuple[KubeApiServer, KubeApiServer], cli: CliRunner
) -> None:
    _, spoke = clusters
    result = cli("--root", sno2, "adopt", "ocp-sno2", "--yes")
    assert result.code == 0, result.err
    location = f"{vault.mount}/data/openshift/ocp-sno2"
    assert f"credentials: stored in Vault at {location} (source: ocp_install/ocp-sno2/auth/)" in result.out
    assert f"install: the API at {spoke.url} answers with these credentials; the install is complete" in result.out
    assert "ACM: ManagedCluster ocp-sno2 on hub ocp-sno1: available" in result.out
    stored = vault.get("openshift/ocp-sno2")
    assert stored == {"api": spoke.url, "kubeconfig": spoke.kubeconfig("ocp-sno2"), "kubeadmin": "predecessor-password"}
    assert "predecessor-password" not in result.out + result.err

    project = _project(sno2)
    state = State(project.paths.install_dir("ocp-sno2").state_file)
    context = PhaseContext(project, "ocp-sno2", Options(), lambda event: None)
    recorded = ["vms", "start", "wait", "credentials", "acm"]
    assert list(state.data["phases"]) == recorded
    assert all(state.done(p.name, p.inputs(context)) for p in PHASES if p.name in recorded)  # provision skips them

    again = cli("--root", sno2, "adopt", "ocp-sno2", "--yes")
    assert again.code == 0, again.err
    assert f"credentials: kept those Vault already holds at {location} (source: Vault)" in again.out
    assert "nothing to change: ocp-sno2 is adopted already" in again.err

    resumed = cli("--root", sno2, "provision", "ocp-sno2", "--from", "wait", "--json")
    assert resumed.code == 0, resumed.err
    events = [json.loads(line) for line in resumed.out.splitlines()]
    skipped = {e["phase"]: e.get("reason") for e in events if e.get("event") == "phase" and e["status"] == "skipped"}
    assert {p: skipped[p] for p in ("wait", "credentials", "acm")} == dict.fromkeys(
        ("wait", "credentials", "acm"), "done, inputs unchanged"
    )
    # A live cluster resumes what is left; only a phase that would build it anew is refused.
    live = cli("--root", sno2, "provision", "ocp-sno2", "--only", "iso")
    assert live.code == 2
    assert "ocp-sno2 is a live cluster" in live.err and "iso would build it anew" in live.err


def test_credentials_already_in_vault_are_kept(
    sno2: Path, vault: VaultFixture, clusters: tuple[KubeApiServer, KubeApiServer], cli: CliRunner
) -> None:
    _, spoke = clusters
    kept = {"api": spoke.url, "kubeconfig": spoke.kubeconfig("ocp-sno2"), "kubeadmin": "rotated-since"}
    vault.put("openshift/ocp-sno2", kept)
    result = cli("--root", sno2, "adopt", "ocp-sno2", "--yes")
    assert result.code == 0, result.err
    assert "(source: Vault)" in result.out
    assert vault.get("openshift/ocp-sno2") == kept
    state = json.loads((sno2 / "ocp_install" / "ocp-sno2" / "state.json").read_text())
    assert list(state["phases"]) == ["vms", "start", "wait", "credentials", "acm"]


def test_an_install_that_never_finished_records_only_the_vms(
    sno2: Path, clusters: tuple[KubeApiServer, KubeApiServer], cli: CliRunner
) -> None:
    hub, spoke = clusters
    spoke.store.set_status("config.openshift.io/v1", "ClusterVersion", "version", {"conditions": []})
    hub.store.set_status(*MC, "ocp-sno2", {"conditions": [{"type": "HubAcceptedManagedCluster", "status": "True"}]})
    dry = cli("--root", sno2, "adopt", "ocp-sno2", "--dry-run")
    assert dry.code == 0, dry.err
    assert "answers, but the install is not complete" in dry.out
    assert "ACM: ManagedCluster ocp-sno2 on hub ocp-sno1: pending" in dry.out
    assert "state.json: would record vms, start as done" in dry.out
    assert not (sno2 / "ocp_install" / "ocp-sno2" / "state.json").exists()
