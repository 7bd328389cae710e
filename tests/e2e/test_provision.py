"""`provision` end to end in the lab: phases, resume, drift, lock, deprovision, dry run, JSON (live clusters:
test_live_cluster.py; the fault matrix: test_faults.py)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import hvac
import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.engine.events import Event, PhaseFinished
from proxshift.engine.phases.base import Options
from proxshift.engine.phases.flow import after, names
from proxshift.engine.provision import Provision
from proxshift.lab.lab import Lab
from tests.conftest import CliRunner, ProjectFiles

FAST = ("--poll-interval", "0.1")
MC = ("cluster.open-cluster-management.io/v1", "ManagedCluster")


def _vault(lab: Lab) -> hvac.Client:
    assert lab.bao is not None
    return hvac.Client(url=lab.bao.addr, token=lab.bao.root_token)


def _stored(lab: Lab, cluster: str) -> dict[str, str] | None:
    try:
        response = _vault(lab).secrets.kv.v2.read_secret_version(
            path=f"openshift/{cluster}", mount_point="secrets", raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return None
    return dict(response["data"]["data"])


def _creates(lab: Lab) -> int:
    return sum(1 for m, p, _ in lab.pve.requests if m == "POST" and re.fullmatch(r"/api2/json/nodes/[^/]+/qemu", p))


def test_provision_sno_then_ha_with_acm(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    result = cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST)
    assert result.code == 0, result.err
    for phase in ("preflight", "secrets", "manifests", "iso", "upload", "vms", "start", "wait", "credentials"):
        assert re.search(rf"✓ {phase}\s+done", result.err), phase
    # The hub has no hub to be imported into: one line, not an error.
    assert re.search(r"↷ acm\s+skipped: not configured: ocp-sno1 is the ACM hub itself\n", result.err)
    vm = lab.pve.vm(301)
    assert vm is not None and vm.status == "running" and vm.node == "pve2"
    assert vm.config["net0"].startswith("virtio=BC:24:11:42:BE:F4,") and str(vm.config["memory"]) == "40960"
    stored = _stored(lab, "ocp-sno1")
    assert stored is not None and stored["api"] == lab.clusters["ocp-sno1"].kube.url
    assert stored["kubeadmin"] not in result.err + result.out

    ha = cli("--root", predecessor_root, "provision", "ocp", *FAST)
    assert ha.code == 0, ha.err
    assert sorted(vm.vmid for vm in lab.pve.vms) == [301, 401, 402, 403, 404, 405, 406]
    managed = lab.clusters["ocp-sno1"].kube.store.find(*MC, "ocp")
    assert managed is not None
    conditions = {c["type"]: c["status"] for c in managed["status"]["conditions"]}
    assert conditions["ManagedClusterJoined"] == conditions["ManagedClusterConditionAvailable"] == "True"
    assert _stored(lab, "ocp") is not None


def test_interrupted_after_vms_resumes_without_recreating(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    project = load_project(discover_paths(predecessor_root))

    def interrupt_after_vms(event: Event) -> None:
        if isinstance(event, PhaseFinished) and (event.phase, event.status) == ("vms", "done"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Provision(project, "ocp-sno2", Options(wait_poll=0.1), interrupt_after_vms).run()
    assert _creates(lab) == 1
    state = json.loads((predecessor_root / "ocp_install" / "ocp-sno2" / "state.json").read_text())
    assert state["phases"]["vms"]["status"] == "done"
    assert not (predecessor_root / "ocp_install" / "ocp-sno2" / ".lock").exists()
    resumed = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert resumed.code == 0, resumed.err
    for phase in ("manifests", "iso", "upload", "vms"):
        assert re.search(rf"↷ {phase}\s+skipped: done, inputs unchanged", resumed.err), phase
    assert _creates(lab) == 1  # the VM was not created again


def test_drift_is_refused_before_anything_changes(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    assert (
        cli(
            "--root",
            predecessor_root,
            "provision",
            "ocp-sno3",
            "--skip",
            "wait",
            "--skip",
            "credentials",
            "--skip",
            "acm",
            *FAST,
        ).code
        == 0
    )
    inventory = predecessor_root / "inventory" / "clusters.yml"
    text = inventory.read_text()
    start = text.index("        ocp-sno3:")
    inventory.write_text(text[:start] + text[start:].replace("memory: 32768", "memory: 49152", 1))
    writes_before = len([r for r in lab.pve.requests if r[0] != "GET"])
    iso = predecessor_root / "ocp_install" / "ocp-sno3" / "agent.x86_64.iso"
    iso_before = iso.stat().st_mtime_ns
    refused = cli("--root", predecessor_root, "provision", "ocp-sno3", *FAST)
    assert refused.code == 2
    assert "master-sno3 (vmid 303): differs from the inventory; --force recreates it" in refused.err
    assert "memory: 32768 -> 49152" in refused.err
    assert len([r for r in lab.pve.requests if r[0] != "GET"]) == writes_before
    assert iso.stat().st_mtime_ns == iso_before
    plan = cli("--root", predecessor_root, "provision", "ocp-sno3", "--dry-run")
    assert "drift      master-sno3 (vmid 303 on pve4)" in plan.out and "memory: 32768 -> 49152" in plan.out


def test_a_lock_left_by_a_killed_run_is_no_obstacle(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    install_dir = predecessor_root / "ocp_install" / "ocp-sno2"
    install_dir.mkdir(parents=True)
    holder = subprocess.Popen(["sleep", "30"])  # a live process that is not proxshift: a PID reused since
    try:
        (install_dir / ".lock").write_text(f"{holder.pid} proxshift provision ocp-sno2\n")
        taken = cli("--root", predecessor_root, "provision", "ocp-sno2", "--only", "preflight")
        assert taken.code == 0, taken.err
        assert "✓ ocp-sno2: preflight done in " in taken.err and "provisioned" not in taken.err  # says what it did
    finally:
        holder.kill()
        holder.wait()
    assert not (install_dir / ".lock").exists()


def test_deprovision_leaves_nothing_behind(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    assert cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST).code == 0
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST).code == 0
    hub = lab.clusters["ocp-sno1"].kube.store
    assert hub.find(*MC, "ocp-sno2") is not None
    result = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes")
    assert result.code == 0, result.err + result.out
    assert [vm.vmid for vm in lab.pve.vms] == [301]
    assert "iso/ocp-sno2-agent.x86_64.iso" not in lab.pve.storages["your_nfs"].get("volumes", {})
    assert hub.find(*MC, "ocp-sno2") is None and hub.find("v1", "Namespace", "ocp-sno2") is None
    install_dir = predecessor_root / "ocp_install" / "ocp-sno2"
    assert sorted(p.name for p in install_dir.iterdir()) == ["audit.jsonl", "history"]  # the trail stays


def test_dry_run_changes_nothing_anywhere(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    assert cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST).code == 0
    pve_before = len(lab.pve.requests)
    hub_requests = lab.clusters["ocp-sno1"].kube.requests
    hub_before = len(hub_requests)
    result = cli("--root", predecessor_root, "provision", "ocp", "--dry-run")
    assert result.code == 0, result.err
    assert [r for r in lab.pve.requests[pve_before:] if r[0] != "GET"] == []
    assert [r for r in hub_requests[hub_before:] if r[0] != "GET"] == []
    assert not (predecessor_root / "ocp_install" / "ocp").exists()
    assert _stored(lab, "ocp") is None
    out = result.out
    for section in ("== preflight", "== secrets", "== manifests", "== vms", "== credentials", "== acm"):
        assert section in out
    assert "create     ocp-node4 (vmid 404 on pve4): vmid is free" in out
    assert "pullSecret: '<redacted: pull-secret from secrets/data/openshift/pullsecret>'" in out
    assert "kind: ManagedCluster" in out
    assert "kubeconfig: '<redacted: the kubeconfig ocp_install/ocp/auth/kubeconfig will hold>'" in out
    assert "auths" not in out
    # One section per selected phase, in the list's order; the same as data with --json.
    assert re.findall(r"^== (\S+)", out, re.MULTILINE) == names()
    chosen = cli("--root", predecessor_root, "provision", "ocp-sno1", "--dry-run", "--from", "iso", "--skip", "wait")
    assert chosen.code == 0, chosen.err
    sections = re.findall(r"^== (.+)$", chosen.out, re.MULTILINE)
    assert sections[:6] == [
        "iso (done before)",
        "upload (done before)",
        "vms (done before)",
        "start (done before)",
        "credentials (done before)",
        "acm",  # not configured for the hub: never recorded
    ]
    assert sections[-1] == "health (done before)"
    assert [s.removesuffix(" (done before)") for s in sections[6:]] == names(after("acm"))
    as_data = cli("--root", predecessor_root, "provision", "ocp-sno1", "--dry-run", "--json", "--only", "acm")
    assert json.loads(as_data.out) == [
        {"phase": "acm", "previously_done": False, "skipped": "not configured: ocp-sno1 is the ACM hub itself"}
    ]


def test_json_events_parse(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    result = cli("--root", predecessor_root, "provision", "ocp-sno1", "--json", *FAST)
    assert result.code == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    phases = [e["phase"] for e in events if e["event"] == "phase" and e["status"] == "done"]
    assert phases == [
        "preflight",
        "secrets",
        "manifests",
        "iso",
        "upload",
        "vms",
        "start",
        "wait",
        "credentials",
        "restore",  # the predecessor's site config lists backup_secrets (there is nothing to restore yet)
        "health",
    ]
    assert {e["cluster"] for e in events} == {"ocp-sno1"}
    run = events[0]
    assert run["event"] == "run" and run["phases"][:10] == [*phases[:9], "acm"]
    acm = next(e for e in events if e["event"] == "phase" and e["phase"] == "acm")
    assert acm == {
        "event": "phase",
        "time": acm["time"],
        "cluster": "ocp-sno1",
        "phase": "acm",
        "status": "skipped",
        "reason": "not configured: ocp-sno1 is the ACM hub itself",
    }
    assert events[-2]["phase"] == "health" and events[-2]["status"] == "done"
    assert events[-1]["event"] == "summary" and events[-1]["console"].startswith("https://console-openshift-console")
    assert events[-1]["kubeconfig"] == str(predecessor_root / "ocp_install" / "ocp-sno1" / "auth" / "kubeconfig")
    vms = [e for e in events if e["event"] == "host" and e["phase"] == "vms"]
    assert [(e["host"], e["state"]) for e in vms] == [("master-sno1", "creating"), ("master-sno1", "created")]
    assert vms[-1]["details"]["vmid"] == "301" and vms[-1]["details"]["node"] == "pve2"


def test_doctor_in_the_lab(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    result = cli("--root", predecessor_root, "doctor", "ocp")
    assert result.code == 0, result.out + result.err
    rows = {line.split("  ")[0]: line for line in result.out.splitlines()[2:]}
    for check in (
        "Vault",
        "openshift-install 4.19.1",
        "Proxmox",
        "Proxmox privileges",
        "nodes, storages, bridges, boot order",
        "vmids free or proxshift's",
    ):
        assert " ok " in rows[check] or rows[check].split()[len(check.split())] == "ok", rows[check]
    # Before the first provision the ISO is not there yet: no warning, provision uploads it.
    assert re.search(r"ISO on its storage\s+ok\s+not uploaded yet", rows["ISO on its storage"])
    # The same count of warnings as 'proxshift validate ocp' gives, and the pointer says so.
    validate = cli("--root", predecessor_root, "validate", "ocp")
    count = re.search(r"\((\d+) warnings?\)", validate.err)
    assert count and re.search(rf"{count.group(1)} warnings? for ocp\s+run 'proxshift validate ocp'", result.out)
    assert "DNS api.ocp.homelab.local" in result.out  # a warning here: nothing resolves in the lab
    flow = " → ".join(names())
    assert f"provision runs these phases: {flow}\n" in result.err
    assert "acm is skipped" not in result.err
    # The predecessor's site config has backup_secrets (restore) and nothing for the other post-install phases.
    skipped = re.findall(r"^  (\S+) is skipped for ocp: not configured", result.err, re.MULTILINE)
    assert skipped == [name for name in names(after("acm")) if name not in ("restore", "health")]
    assert "  labels is skipped for ocp: not configured: no node labels" in result.err
    hub = cli("--root", predecessor_root, "doctor", "ocp-sno1")
    assert "  acm is skipped for ocp-sno1: not configured: ocp-sno1 is the ACM hub itself\n" in hub.err
    lab.pve.add_vm(404, "someones-db", node="pve4")
    refused = cli("--root", predecessor_root, "doctor", "ocp")
    assert refused.code == 1
    assert "vmid 404 is VM 'someones-db' on pve4, not created by proxshift" in refused.out


def test_lab_files_holding_secrets_are_private(predecessor_root: Path, lab: Lab) -> None:
    directory = predecessor_root / ".lab"
    for name in ("env", "openbao.log", "state.json", "pki/key.pem", f"installer-state/{'ocp-sno1'}.json"):
        assert oct((directory / name).stat().st_mode & 0o777) == "0o600", name
    assert oct(directory.stat().st_mode & 0o777) == "0o700"


def test_preflight_catches_a_missing_bridge_before_anything_is_written(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    inventory = predecessor_root / "inventory" / "clusters.yml"
    text = inventory.read_text()
    start = text.index("        ocp-sno2:")
    inventory.write_text(text[:start] + text[start:].replace("bridge: vmbr0", "bridge: vmbr7", 1))
    result = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert result.code == 2
    assert "net0: bridge 'vmbr7' does not exist on pve3" in result.err
    assert re.search(r"✗ preflight\s+failed", result.err)
    assert not (predecessor_root / "ocp_install" / "ocp-sno2" / "install-config.yaml").exists()
    assert [r for r in lab.pve.requests if r[0] != "GET"] == []


def test_an_iso_proxshift_did_not_upload_is_never_replaced(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    lab.pve.store_file("your_nfs", "ocp-sno2-agent.x86_64.iso", 4096)
    result = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert result.code == 2
    assert "your_nfs:iso/ocp-sno2-agent.x86_64.iso on pve3" in result.err
    assert "proxshift iso upload ocp-sno2 --replace" in result.err
    assert re.search(r"✗ upload\s+failed", result.err)
    assert lab.pve.storages["your_nfs"]["volumes"]["iso/ocp-sno2-agent.x86_64.iso"]["size"] == 4096
    assert [r for r in lab.pve.requests if r[0] == "DELETE" or r[1].endswith("/upload")] == []


def test_a_regenerated_iso_replaces_the_one_proxshift_uploaded(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", "--only", "secrets").code == 0
    for phase in ("manifests", "iso", "upload"):
        assert cli("--root", predecessor_root, "provision", "ocp-sno2", "--only", phase).code == 0
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", "--only", "iso").code == 0  # a new ISO
    again = cli("--root", predecessor_root, "provision", "ocp-sno2", "--only", "upload")
    assert again.code == 0, again.err
    assert "your_nfs:iso/ocp-sno2-agent.x86_64.iso on pve3: replaced" in again.err


def test_a_failed_run_s_json_stream_ends_with_the_error(
    project: ProjectFiles, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxshift.lab.openbao import free_port

    port = free_port()  # nothing listens there
    project.site["proxmox"] = {"host": "127.0.0.1", "port": port}
    root = project.write()
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_ID", "root@pam!proxshift")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_SECRET", "00000000-0000-0000-0000-000000000000")
    result = cli("--root", root, "provision", "sno", "--json")
    assert result.code == 1
    events = [json.loads(line) for line in result.out.splitlines()]
    assert [(e["event"], e.get("phase"), e.get("status")) for e in events] == [
        ("run", None, None),
        ("phase", "preflight", "running"),
        ("phase", "preflight", "failed"),
        ("error", None, None),
    ]
    error = events[-1]
    assert error["message"].startswith(f"Proxmox at 127.0.0.1:{port} is unreachable")
    assert error["hint"] == "check proxmox.host and port" and error["exit_code"] == 1
    assert error["message"] in result.err  # and the boundary still says it on stderr

    unknown = cli("--root", root, "provision", "nosuch", "--json")  # before any phase: still one error event
    assert unknown.code == 2
    (only,) = [json.loads(line) for line in unknown.out.splitlines()]
    assert only["event"] == "error" and only["exit_code"] == 2 and "nosuch" in only["message"]


def test_two_clusters_at_once_with_tagged_interleaved_events(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    # ocp-sno1 is the hub: ocp-sno2's acm phase waits for its run, then imports into it.
    result = cli("--root", predecessor_root, "provision", "ocp-sno1", "ocp-sno2", "--parallel", "2", "--json", *FAST)
    assert result.code == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    assert {e["cluster"] for e in events} == {"ocp-sno1", "ocp-sno2"}
    order = [e["cluster"] for e in events]
    switches = sum(1 for before, after in itertools.pairwise(order) if before != after)
    assert switches > 2, "the two runs went side by side, not one after the other"
    ends = {e["cluster"]: e for e in events if e["event"] == "summary"}
    assert set(ends) == {"ocp-sno1", "ocp-sno2"}
    done = [(e["cluster"], e["phase"]) for e in events if e["event"] == "phase" and e["status"] == "done"]
    assert ("ocp-sno2", "acm") in done and ("ocp-sno1", "wait") in done
    assert lab.clusters["ocp-sno1"].kube.store.find(*MC, "ocp-sno2") is not None
    assert _stored(lab, "ocp-sno1") is not None and _stored(lab, "ocp-sno2") is not None
    assert re.search(r"✓ ocp-sno1: done in \d+:\d\d", result.err) and re.search(r"✓ ocp-sno2: done in", result.err)


def test_several_clusters_exit_with_the_worst_run(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    from tests.cli.test_lock import HOLD

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(predecessor_root / "ocp_install" / "ocp-sno3")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    try:
        result = cli(
            "--root", predecessor_root, "provision", "ocp-sno2", "ocp-sno3", "--parallel", "2", "--skip", "acm", *FAST
        )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
    assert result.code == 2, result.err  # ocp-sno3 refused by its lock; ocp-sno2 done
    lines = result.err.splitlines()
    assert any(re.search(r"Z \[ocp-sno2\] ✓ vms\s+done", line) for line in lines), result.err
    assert re.search(r"✓ ocp-sno2: done in", result.err)
    assert re.search(r"✗ ocp-sno3: failed \(exit 2\) after", result.err)
    assert f"another proxshift run (PID {holder.pid}" in result.err
    assert [vm.vmid for vm in lab.pve.vms] == [302]


def test_start_stop_status_of_several_clusters(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    root = ("--root", predecessor_root)
    skips = ("--skip", "wait", "--skip", "credentials", "--skip", "acm")
    built = cli(*root, "provision", "ocp-sno2", "ocp-sno3", "--parallel", "2", *skips)
    assert built.code == 0, built.err
    stopped = cli(*root, "stop", "ocp-sno2", "ocp-sno3", "--parallel", "2", "--force", "--timeout", "5")
    assert stopped.code == 0, stopped.err
    assert "# ocp-sno2" in stopped.out and "# ocp-sno3" in stopped.out
    assert {vm.vmid: vm.status for vm in lab.pve.vms} == {302: "stopped", 303: "stopped"}
    started = cli(*root, "start", "ocp-sno2", "ocp-sno3", "ocp3", "--parallel", "3")
    assert started.code == 2, started.err  # ocp3 has no VMs yet: its error; the others are started
    assert started.out.count("ok: running") == 2 and "VM(s) do not exist yet" in started.err
    assert {vm.vmid: vm.status for vm in lab.pve.vms} == {302: "running", 303: "running"}
    status = cli(*root, "status", "ocp-sno2", "ocp-sno3", "--json")
    assert status.code == 0, status.err
    assert [(s["cluster"], [v["status"] for v in s["vms"]]) for s in json.loads(status.out)] == [
        ("ocp-sno2", ["running"]),
        ("ocp-sno3", ["running"]),
    ]
    table = cli(*root, "status", "ocp-sno2", "ocp-sno3")
    assert re.search(r"^ocp-sno3\s+master-sno3\s+303", table.out, re.MULTILINE), table.out
