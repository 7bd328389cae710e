"""VMs from the inventory on fakepve over HTTPS with its CA: create, start, stop, deprovision, status."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRunner
from tests.integration.pve import ISO_NAMES, PveLab

OCP_VMIDS = [401, 402, 403, 404, 405, 406]


@pytest.fixture
def root(predecessor_root: Path, pve_lab: PveLab, monkeypatch: pytest.MonkeyPatch) -> Path:
    pve_lab.configure(predecessor_root)
    for name in ISO_NAMES:
        pve_lab.pve.store_file("your_nfs", name, 1024)
    monkeypatch.setenv("PROXSHIFT_PROXMOX_USER", "root@pam")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_PASSWORD", "secret")
    return predecessor_root


def _config(lab: PveLab, vmid: int) -> dict[str, str]:
    vm = lab.pve.vm(vmid)
    assert vm is not None, f"VM {vmid} does not exist"
    return {k: str(v) for k, v in vm.config.items()}


def test_create_ocp_matches_the_inventory(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    result = cli("--root", root, "vms", "create", "ocp")
    assert result.code == 0, result.err
    assert [vm.vmid for vm in sorted(pve_lab.pve.vms, key=lambda v: v.vmid)] == OCP_VMIDS
    nodes = {vm.vmid: vm.node for vm in pve_lab.pve.vms}
    assert nodes == {401: "pve1", 402: "pve3", 403: "pve3", 404: "pve4", 405: "pve4", 406: "pve4"}
    node1 = _config(pve_lab, 401)
    assert node1["name"] == "ocp-node1.ocp.homelab.local"
    assert (node1["memory"], node1["cores"], node1["sockets"], node1["cpu"]) == ("25600", "8", "1", "host")
    assert (node1["numa"], node1["scsihw"], node1["onboot"], node1["boot"]) == (
        "0",
        "virtio-scsi-single",
        "1",
        "order=scsi0;ide2",
    )
    assert re.fullmatch(r"local-lvm:vm-401-disk-\d,backup=0,iothread=1,size=100G,ssd=1", node1["scsi0"])
    assert node1["net0"] == "virtio=02:08:F3:F5:70:3C,bridge=vmbr0,firewall=0,tag=42"
    assert node1["ide2"].startswith("your_nfs:iso/ocp-agent.x86_64.iso,media=cdrom")
    assert node1["description"] == "managed-by=proxshift cluster=ocp host=ocp-node1"
    assert node1["tags"] == "ocp;proxshift"
    assert "bios" not in node1  # SeaBIOS by default
    node4 = _config(pve_lab, 404)
    assert "wwn=0x5000c50000000004" in node4["scsi0"]
    assert "size=150G" in node4["scsi1"]
    assert node4["net0"].startswith("virtio=BC:24:11:52:94:F4,")
    assert (node4["memory"], node4["cores"]) == ("32768", "10")
    assert pve_lab.errors() == []
    creates = [w for w in pve_lab.writes if re.fullmatch(r"/api2/json/nodes/pve\d/qemu", w[1])]
    assert len(creates) == 6  # one call per VM, every disk and NIC included
    assert "6 VMs" not in result.err  # (the table is on stdout)
    assert result.out.count("ok: created") == 6


def test_the_reads_before_create_go_out_together_each_once(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    """Each read waits 0.2 s on fakepve: made one after another, no two would ever be in flight together."""
    pve = pve_lab.pve
    answer = pve._answer
    in_flight: list[str] = []
    together: list[set[str]] = []

    async def slow_answer(request: Any, *args: Any) -> Any:
        if request.method != "GET" or "/tasks/" in request.path or "/qemu/" in request.path:
            return await answer(request, *args)
        in_flight.append(request.path)
        together.append(set(in_flight))
        await asyncio.sleep(0.2)
        in_flight.remove(request.path)
        return await answer(request, *args)

    pve._answer = slow_answer
    result = cli("--root", root, "vms", "create", "ocp")
    assert result.code == 0, result.err
    reads = [p.removeprefix("/api2/json") for m, p, _ in pve.requests if m == "GET" and "/tasks/" not in p]
    assert sorted(reads) == sorted(set(reads))  # each read once, however many VMs asked for it
    first = {"/api2/json/access/permissions", "/api2/json/cluster/resources", "/api2/json/nodes"}
    assert any(first <= reads for reads in together)  # what every create reads first, at once
    facts = {
        f"/api2/json/nodes/{node}/{what}"
        for node in ("pve1", "pve3", "pve4")
        for what in ("storage", "network", "storage/your_nfs/content")
    }
    assert any(facts <= reads for reads in together)  # each node's storages, bridges and ISOs, all at once


def test_rerun_makes_no_writes(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    assert cli("--root", root, "vms", "create", "ocp").code == 0
    before = len(pve_lab.writes)
    again = cli("--root", root, "vms", "create", "ocp")
    assert again.code == 0
    assert again.out.count("ok: unchanged") == 6
    assert [w for w in pve_lab.writes[before:] if not w[1].endswith("/access/ticket")] == []


def test_ovmf_with_secure_boot(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    inventory = root / "inventory" / "clusters.yml"
    inventory.write_text(
        inventory.read_text().replace(
            "        ocp-sno1:\n          vars:\n",
            "        ocp-sno1:\n          vars:\n            bios: ovmf\n            secure_boot: true\n",
        )
    )
    assert cli("--root", root, "vms", "create", "ocp-sno1").code == 0
    config = _config(pve_lab, 301)
    assert (config["bios"], config["machine"]) == ("ovmf", "q35")
    assert re.fullmatch(r"local-lvm:vm-301-disk-\d,efitype=4m,pre-enrolled-keys=1,size=528K", config["efidisk0"])


def test_foreign_vm_is_refused_and_left_intact(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    pve_lab.foreign_vm(404, node="pve4")
    before = dict(pve_lab.pve.vm(404).config)
    for flags in ([], ["--force"]):
        result = cli("--root", root, "vms", "create", "ocp", *flags)
        assert result.code == 2
        assert "ocp-node4 (vmid 404): vmid 404 is VM 'someones-db' on pve4, not created by proxshift" in result.err
    assert pve_lab.pve.vm(404).config == before
    assert [vm.vmid for vm in pve_lab.pve.vms] == [404]  # nothing else was created either
    assert [w for w in pve_lab.writes if not w[1].endswith("/access/ticket")] == []


def test_container_on_an_inventory_vmid_is_a_conflict(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    pve_lab.pve.add_ct(301, "web", node="pve2")
    result = cli("--root", root, "vms", "create", "ocp-sno1")
    assert result.code == 2
    assert "vmid 301 is used by container 'web' on pve2" in result.err


def test_drift_is_shown_and_only_force_recreates_the_drifted_vm(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    assert cli("--root", root, "vms", "create", "ocp").code == 0
    inventory = root / "inventory" / "clusters.yml"
    text = inventory.read_text()
    start = text.index("            ocp-node5:")
    text = text[:start] + text[start:].replace("memory: 32768", "memory: 40960", 1)
    inventory.write_text(text)
    refused = cli("--root", root, "vms", "create", "ocp")
    assert refused.code == 2
    assert "ocp-node5 (vmid 405): differs from the inventory; --force recreates it" in refused.err
    assert "memory: 32768 -> 40960" in refused.err
    assert _config(pve_lab, 405)["memory"] == "32768"
    others = {vmid: pve_lab.pve.vm(vmid).config["vmgenid"] for vmid in OCP_VMIDS if vmid != 405}
    forced = cli("--root", root, "vms", "create", "ocp", "--force", "--yes")
    assert forced.code == 0, forced.err
    assert "  recreate   VM ocp-node5 (vmid 405 on pve4, stopped): memory: 32768 -> 40960\n" in forced.err
    assert _config(pve_lab, 405)["memory"] == "40960"
    assert {vmid: pve_lab.pve.vm(vmid).config["vmgenid"] for vmid in others} == others  # untouched
    assert forced.out.count("ok: recreated") == 1


def test_dry_run_changes_nothing_and_shows_parameters(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    result = cli("--root", root, "vms", "create", "ocp-sno1", "--dry-run")
    assert result.code == 0, result.err
    assert "create     master-sno1 (vmid 301 on pve2): vmid is free" in result.out
    assert "net0=virtio=BC:24:11:42:BE:F4,bridge=vmbr0,tag=42,firewall=0" in result.out
    assert pve_lab.pve.vms == []
    assert [w for w in pve_lab.writes if not w[1].endswith("/access/ticket")] == []


def test_start_and_a_failed_start_surfaces_the_task_log(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    assert cli("--root", root, "vms", "create", "ocp").code == 0
    pve_lab.pve.vm(403).start_error = "kvm: -drive file=/dev/pve/vm-403-disk-0: Could not open: No such file"
    result = cli("--root", root, "start", "ocp")
    assert result.code == 1
    assert (
        "FAILED: starting VM 403 (ocp-node3) failed: TASK ERROR: kvm: -drive file=/dev/pve/vm-403-disk-0: "
        "Could not open: No such file"
    ) in result.out
    assert result.out.count("ok: running") == 5
    assert {vm.vmid: vm.status for vm in pve_lab.pve.vms}[401] == "running"
    pve_lab.pve.vm(403).start_error = None
    again = cli("--root", root, "start", "ocp")
    assert again.code == 0
    assert again.out.count("ok: already running") == 5


@pytest.mark.time_scale(0.01)
def test_shutdown_timeout_without_and_with_force(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    assert cli("--root", root, "vms", "create", "ocp-sno1").code == 0
    assert cli("--root", root, "start", "ocp-sno1").code == 0
    pve_lab.pve.vm(301).shutdown_secs = 600
    gentle = cli("--root", root, "stop", "ocp-sno1", "--timeout", "5")
    assert gentle.code == 1
    assert "did not shut down within 5 s" in gentle.out
    assert pve_lab.pve.vm(301).status == "running"
    forced = cli("--root", root, "stop", "ocp-sno1", "--timeout", "5", "--force")
    assert forced.code == 0, forced.out
    assert "stopped (forced)" in forced.out
    assert pve_lab.pve.vm(301).status == "stopped"


def test_node_offline_mid_run_gives_a_per_vm_report(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    pve_lab.pve.fail("POST", "/nodes/pve4/qemu", 595, "No route to host")
    result = cli("--root", root, "vms", "create", "ocp")
    assert result.code == 1
    assert result.out.count("ok: created") == 3
    for host in ("ocp-node4", "ocp-node5", "ocp-node6"):
        line = next(line for line in result.out.splitlines() if line.startswith(host))
        assert "FAILED: node unreachable while creating VM" in line and "No route to host" in line


def test_locked_vm_is_reported(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    assert cli("--root", root, "vms", "create", "ocp-sno1").code == 0
    pve_lab.pve.snapshot_lock(301)
    result = cli("--root", root, "deprovision", "ocp-sno1", "--yes")
    assert result.code == 1
    assert "VM is locked (snapshot)" in result.out
    assert pve_lab.pve.vm(301) is not None


def test_token_without_vm_allocate_names_the_privilege(
    root: Path, pve_lab: PveLab, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakepve import shapes

    pve_lab.pve.apitokens["proxshift@pve!ci"] = "token-secret-value"
    pve_lab.pve.acl = {"proxshift@pve!ci": [("/", set(shapes.PRIVILEGES) - {"VM.Allocate"})]}
    monkeypatch.delenv("PROXSHIFT_PROXMOX_USER")
    monkeypatch.delenv("PROXSHIFT_PROXMOX_PASSWORD")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_ID", "proxshift@pve!ci")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_SECRET", "token-secret-value")
    result = cli("--root", root, "vms", "create", "ocp-sno1")
    assert result.code == 1
    assert "lack: VM.Allocate on /vms/301" in result.err
    assert "token-secret-value" not in result.err + result.out
    assert pve_lab.pve.vms == []


def _token_with(pve_lab: PveLab, monkeypatch: pytest.MonkeyPatch, acl: list[tuple[str, set[str]]]) -> None:
    pve_lab.pve.apitokens["proxshift@pve!ci"] = "token-secret-value"
    pve_lab.pve.acl = {"proxshift@pve!ci": acl}
    monkeypatch.delenv("PROXSHIFT_PROXMOX_USER", raising=False)
    monkeypatch.delenv("PROXSHIFT_PROXMOX_PASSWORD", raising=False)
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_ID", "proxshift@pve!ci")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_SECRET", "token-secret-value")


def test_sdn_use_is_checked_on_the_bridge_and_vlan_pve_checks(
    root: Path, pve_lab: PveLab, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PVE 8+ checks SDN.Use for every NIC, a plain bridge being a vnet of the zone `localnetwork`."""
    from fakepve import shapes

    everything_else = set(shapes.PRIVILEGES) - {"SDN.Use"}
    _token_with(pve_lab, monkeypatch, [("/", everything_else)])
    refused = cli("--root", root, "vms", "create", "ocp-sno1")
    assert refused.code == 1
    assert "lack: SDN.Use on /sdn/zones/localnetwork/vmbr0/42" in refused.err  # net0 is tagged 42
    assert pve_lab.pve.vms == []
    _token_with(pve_lab, monkeypatch, [("/", everything_else), ("/sdn/zones/localnetwork/vmbr0", {"SDN.Use"})])
    before = len(pve_lab.pve.statuses)
    created = cli("--root", root, "vms", "create", "ocp-sno1")
    assert created.code == 0, created.err
    listed = [p for m, p, _ in pve_lab.pve.statuses[before:] if m == "GET" and "/network" in p]
    assert listed == ["/api2/json/nodes/pve2/network"]  # the bridges were read once, for both checks


def test_sdn_use_granted_on_every_zone_needs_no_look_at_bridges_first(
    root: Path, pve_lab: PveLab, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakepve import shapes

    _token_with(pve_lab, monkeypatch, [("/", set(shapes.PRIVILEGES) - {"SDN.Use"}), ("/sdn/zones", {"SDN.Use"})])
    result = cli("--root", root, "vms", "create", "ocp-sno1")
    assert result.code == 0, result.err
    reads = [p for m, p, _ in pve_lab.pve.statuses if m == "GET"]
    assert reads.index("/api2/json/nodes/pve2/network") > reads.index("/api2/json/cluster/resources")


def test_wrong_password_is_one_line(root: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXSHIFT_PROXMOX_PASSWORD", "wrong-password")
    result = cli("--root", root, "vms", "create", "ocp-sno1")
    assert result.code == 1
    assert "rejected the password of root@pam" in result.err
    assert "wrong-password" not in result.err


def test_a_login_ahead_is_the_one_login_and_its_error_comes_at_first_use(pve_lab: PveLab) -> None:
    from proxshift.clients.proxmox.connection import Connection, Endpoint, ProxmoxCredentials
    from proxshift.errors import OperationError
    from proxshift.secret import Secret

    endpoint = Endpoint("127.0.0.1", pve_lab.pve.port, pve_lab.cafile)

    def logins() -> int:
        return sum(1 for m, p, _ in pve_lab.pve.requests if m == "POST" and p.endswith("/access/ticket"))

    good = Connection(endpoint, ProxmoxCredentials("root@pam", password=Secret("secret")))
    good.log_in_ahead()
    good.log_in_ahead()  # already under way: no second login
    assert [n["node"] for n in good.api.nodes.get()]
    good.log_in_ahead()  # already logged in
    assert good.api.cluster.resources.get(type="vm") == []
    assert logins() == 1
    bad = Connection(endpoint, ProxmoxCredentials("root@pam", password=Secret("wrong-password")))
    bad.log_in_ahead()
    with pytest.raises(OperationError, match="rejected the password of root@pam"):
        _ = bad.api  # the thread's error, in the thread that uses the API
    with pytest.raises(OperationError, match="rejected the password of root@pam"):
        _ = bad.api  # and a later use logs in again, as without a login ahead
    assert logins() == 3


def test_connections_opened_ahead_serve_the_requests_made_at_once(pve_lab: PveLab) -> None:
    """Each new connection costs a TCP and TLS handshake; those opened ahead (during the login's round trip)
    are the ones the parallel requests after the login use, so none of those opens its own."""
    from proxshift.clients.proxmox.connection import Connection, Endpoint, ProxmoxCredentials
    from proxshift.engine.vm_run import in_parallel
    from proxshift.errors import OperationError
    from proxshift.secret import Secret

    connection = Connection(
        Endpoint("127.0.0.1", pve_lab.pve.port, pve_lab.cafile),
        ProxmoxCredentials("root@pam", password=Secret("secret")),
    )
    connection.open_ahead(4).join()
    pools = connection._pooled().poolmanager.pools  # what requests' adapter holds, per host

    def opened() -> list[int]:
        return [pools[key].num_connections for key in pools.keys()]  # noqa: SIM118 - it cannot be iterated

    assert opened() == [4]  # before any request
    nodes = in_parallel(["pve1", "pve2", "pve3", "pve4"], lambda node: connection.api.nodes(node).status.get())
    assert len(nodes) == 4
    session = connection.api._store["session"]
    assert session.get_adapter(f"https://127.0.0.1:{pve_lab.pve.port}/") is connection._pooled()
    assert opened() == [4]  # the requests used the connections opened ahead, and opened none of their own
    # A host that does not answer: nothing opens, nothing is raised, the request says why.
    dead = Connection(Endpoint("127.0.0.1", 1, pve_lab.cafile), ProxmoxCredentials("root@pam", password=Secret("x")))
    dead.open_ahead(2).join()
    with pytest.raises(OperationError, match=r"127\.0\.0\.1:1\b"):
        _ = dead.api


def test_an_early_login_is_the_one_login_and_taken_only_for_its_endpoint_and_credentials(
    root: Path, pve_lab: PveLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxshift.config.paths import discover_paths
    from proxshift.config.project import load_project
    from proxshift.engine.connections import log_in_early, proxmox_for

    seen: list[Any] = []

    def on_settings(settings: Any) -> None:
        seen.append(log_in_early(settings))

    project = load_project(discover_paths(root), only=["ocp"], on_settings=on_settings)
    early = seen[0]
    assert early is not None and early.endpoint.port == pve_lab.pve.port
    prox = proxmox_for(project, "ocp", early=early)[0]
    assert prox.connection is early and prox.tasks.connection is early  # the audited tasks too
    assert len(prox.cluster.guests()) == 0
    pools = early._pooled().poolmanager.pools

    def opened() -> list[int]:
        return [pools[key].num_connections for key in pools.keys()]  # noqa: SIM118 - it cannot be iterated

    deadline = time.monotonic() + 10
    while sum(opened()) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    # One per VM of ocp, opened ahead; the read above may have opened its own before they were in the pool.
    assert opened() in ([6], [7])
    assert [p for m, p, _ in pve_lab.pve.requests if m == "POST"] == ["/api2/json/access/ticket"]
    monkeypatch.setenv("PROXSHIFT_PROXMOX_USER", "someone@pve")  # other credentials: a connection of its own
    other = proxmox_for(project, "ocp", early=early)[0].connection
    assert other is not early
    assert other._adapter is None  # and none opened ahead: it is made where it is first needed
    monkeypatch.delenv("PROXSHIFT_PROXMOX_USER")  # credentials only from Vault: no login before the inventory
    assert log_in_early(project.settings) is None


def test_environment_checks_before_any_write(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    inventory = root / "inventory" / "clusters.yml"
    text = inventory.read_text()
    start = text.index("        ocp-sno2:")
    tail = (
        text[start:].replace("bridge: vmbr0", "bridge: vmbr9", 1).replace("storage: local-lvm", "storage: fast-ssd", 1)
    )
    inventory.write_text(text[:start] + tail.replace("'order=scsi0;ide2'", "'order=scsi0;ide2;virtio3'", 1))
    result = cli("--root", root, "vms", "create", "ocp-sno2")
    assert result.code == 2
    assert "scsi0: storage 'fast-ssd' does not exist on pve3" in result.err
    assert "net0: bridge 'vmbr9' does not exist on pve3" in result.err
    assert "boot order names virtio3" in result.err
    assert pve_lab.pve.vms == []


def test_missing_iso_is_caught_before_create(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    pve_lab.pve.storages["your_nfs"]["files"].clear()
    pve_lab.pve.storages["your_nfs"]["volumes"] = {}
    result = cli("--root", root, "vms", "create", "ocp-sno1")
    assert result.code == 2
    assert "ISO your_nfs:iso/ocp-sno1-agent.x86_64.iso is not on storage 'your_nfs' of pve2" in result.err
    assert "proxshift iso upload ocp-sno1" in result.err


def test_an_iso_storage_the_node_lacks_is_named_though_its_content_was_read_ahead(
    root: Path, pve_lab: PveLab, cli: CliRunner
) -> None:
    """The checks read the ISO storage's content ahead, on the guess that the storage is there; PVE's
    error for that read must not stand in for the check's own words."""
    del pve_lab.pve.storages["your_nfs"]
    result = cli("--root", root, "vms", "create", "ocp-sno1")
    assert result.code == 2, result.err
    assert "ISO storage 'your_nfs' does not exist on pve2" in result.err
    content = [p for m, p, _ in pve_lab.pve.requests if p.endswith("/storage/your_nfs/content")]
    assert len(content) == 1  # the read made ahead, not made again for nothing
    assert pve_lab.pve.vms == []


def test_a_node_read_that_fails_ahead_is_not_made_again_by_the_checks(
    root: Path, pve_lab: PveLab, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storages are read ahead because every check of a node's VMs reads them: when that read fails
    (retried, as reads are), the checks must not make it again, or a hung node costs its timeouts twice."""
    from proxshift.clients.proxmox import connection
    from proxshift.clients.transport import RetryPolicy

    monkeypatch.setattr(connection, "RETRY", RetryPolicy(attempts=2))
    pve_lab.pve.fail("GET", "/nodes/pve2/storage", 503, "Service Unavailable", html=True)
    result = cli("--root", root, "vms", "create", "ocp-sno1")
    assert result.code == 1, result.err
    assert "answered HTTP 503" in result.err
    storages = [p for m, p, _ in pve_lab.pve.requests if m == "GET" and p.endswith("/nodes/pve2/storage")]
    assert len(storages) == 2  # the read and its one retry, once
    assert pve_lab.pve.vms == []


def test_iso_upload_lands_and_is_skipped_the_second_time(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    pve_lab.pve.storages["your_nfs"]["files"].clear()
    pve_lab.pve.storages["your_nfs"]["volumes"] = {}
    install = root / "ocp_install" / "ocp"
    install.mkdir(parents=True)
    iso = install / "agent.x86_64.iso"
    iso.write_bytes(b"\0" * 300_000)
    first = cli("--root", root, "iso", "upload", "ocp")
    assert first.code == 0, first.err
    assert "your_nfs:iso/ocp-agent.x86_64.iso on pve1: uploaded" in first.err
    volumes = pve_lab.pve.storages["your_nfs"]["volumes"]
    assert volumes["iso/ocp-agent.x86_64.iso"]["size"] == 300_000
    import hashlib

    sent = pve_lab.pve.uploaded
    assert (sent["checksum"], sent["checksum-algorithm"]) == (hashlib.sha256(iso.read_bytes()).hexdigest(), "sha256")
    uploads = [w for w in pve_lab.writes if w[1].endswith("/upload")]
    assert len(uploads) == 1  # a shared storage gets the file once, not once per node
    second = cli("--root", root, "iso", "upload", "ocp")
    assert "skipped (already there)" in second.err
    assert len([w for w in pve_lab.writes if w[1].endswith("/upload")]) == 1
    # deprovision removes the ISO it uploaded
    assert cli("--root", root, "vms", "create", "ocp").code == 0
    gone = cli("--root", root, "deprovision", "ocp", "--yes", "--keep-acm")  # no Vault here: no hub to reach
    assert gone.code == 0, gone.out
    assert "iso/ocp-agent.x86_64.iso" not in pve_lab.pve.storages["your_nfs"].get("volumes", {})


def test_deprovision_removes_exactly_our_vms(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    pve_lab.foreign_vm(999, node="pve1")
    assert cli("--root", root, "vms", "create", "ocp").code == 0
    assert cli("--root", root, "start", "ocp").code == 0
    result = cli("--root", root, "deprovision", "ocp", "--yes", "--keep-acm")  # no Vault here: no hub to reach
    assert result.code == 0, result.out
    assert [vm.vmid for vm in pve_lab.pve.vms] == [999]
    assert result.out.count("ok: destroyed") == 6
    # the pre-uploaded ISO (not uploaded by proxshift) is left alone
    assert [w for w in pve_lab.writes if "/content/" in w[1]] == []
    assert "iso/ocp-agent.x86_64.iso" in pve_lab.pve.storages["your_nfs"]["volumes"]
    assert pve_lab.errors() == []


def test_deprovision_needs_confirmation_without_a_tty(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    assert cli("--root", root, "vms", "create", "ocp-sno1").code == 0
    result = cli("--root", root, "deprovision", "ocp-sno1")
    assert result.code == 2
    assert "needs confirmation" in result.err
    assert pve_lab.pve.vm(301) is not None


def test_status_shows_ours_state_and_drift(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    import json

    assert cli("--root", root, "vms", "create", "ocp-sno1").code == 0
    assert cli("--root", root, "start", "ocp-sno1").code == 0
    result = cli("--root", root, "status", "ocp-sno1", "--json")
    data = json.loads(result.out)
    assert data["acm"] == "n/a (ocp-sno1 is the ACM hub itself)"
    [row] = data["vms"]
    assert (row["host"], row["exists"], row["ours"], row["status"], row["drift"]) == (
        "master-sno1",
        True,
        True,
        "running",
        [],
    )
    assert row["maxmem"] == 40960 * 2**20


def test_lifecycle_dry_runs_say_what_they_would_do(root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    assert cli("--root", root, "vms", "create", "ocp-sno1").code == 0
    before = len(pve_lab.writes)
    start = cli("--root", root, "start", "ocp-sno1", "--dry-run")
    assert "start      master-sno1 (vmid 301 on pve2): stopped, matches the inventory" in start.out
    gone = cli("--root", root, "deprovision", "ocp-sno1", "--dry-run")
    assert gone.code == 0, gone.err
    assert "destroy    VM master-sno1 (vmid 301 on pve2, stopped)\n" in gone.out
    assert [w for w in pve_lab.writes[before:] if not w[1].endswith("/access/ticket")] == []
    assert pve_lab.pve.vm(301) is not None


# -- transient network failures (fakepve's own fault injection) ---------------------------------------------


class EveryOtherDropped(random.Random):
    """fakepve's dice for flaky_network: of the requests it decides on, every second one is dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions = 0

    def uniform(self, a: float, b: float) -> float:
        return a  # the jitter (0 here): no draw, so that random() below is only asked "drop this one?"

    def random(self) -> float:
        self.decisions += 1
        return 0.0 if self.decisions % 2 == 0 else 0.99


@pytest.fixture
def token_root(root: Path, pve_lab: PveLab, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An API token: no login POST, so every request of a read-only command is a GET."""
    pve_lab.pve.apitokens["root@pam!ci"] = "token-secret"
    monkeypatch.delenv("PROXSHIFT_PROXMOX_USER")
    monkeypatch.delenv("PROXSHIFT_PROXMOX_PASSWORD")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_ID", "root@pam!ci")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_SECRET", "token-secret")
    return root


def test_dropped_connections_on_reads_are_retried(token_root: Path, pve_lab: PveLab, cli: CliRunner) -> None:
    assert cli("--root", token_root, "vms", "create", "ocp-sno1").code == 0
    dice = EveryOtherDropped()
    pve_lab.pve._random = dice
    pve_lab.pve.flaky_network(drop_rate=0.5)
    result = cli("--root", token_root, "status", "ocp-sno1", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["vms"][0]["status"] == "stopped"
    assert dice.decisions >= 4  # two reads or more were dropped, each one answered on its retry


def test_dropped_connections_without_retries_abort_naming_the_kind(
    token_root: Path, pve_lab: PveLab, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same fault with retries off: what users saw before, now with the kind of failure named."""
    from proxshift.clients.proxmox import connection
    from proxshift.clients.transport import RetryPolicy

    assert cli("--root", token_root, "vms", "create", "ocp-sno1").code == 0
    monkeypatch.setattr(connection, "RETRY", RetryPolicy(attempts=1))
    pve_lab.pve._random = EveryOtherDropped()
    pve_lab.pve.flaky_network(drop_rate=0.5)
    result = cli("--root", token_root, "status", "ocp-sno1")
    assert result.code == 1
    assert f"Proxmox at 127.0.0.1:{pve_lab.pve.port} is unreachable while" in result.err
    assert "(connection dropped)" in result.err


def test_a_proxy_503_on_a_read_is_retried_and_a_lasting_one_is_named(
    token_root: Path, pve_lab: PveLab, cli: CliRunner
) -> None:
    pve_lab.pve.fail("GET", "/cluster/resources", 503, "Service Unavailable", html=True, times=2)
    assert cli("--root", token_root, "status", "ocp-sno1").code == 0
    pve_lab.pve.fail("GET", "/cluster/resources", 503, "Service Unavailable", html=True)
    result = cli("--root", token_root, "status", "ocp-sno1")
    assert result.code == 1
    assert f"Proxmox at 127.0.0.1:{pve_lab.pve.port} answered HTTP 503 while" in result.err
    assert "reads were retried" in result.err
