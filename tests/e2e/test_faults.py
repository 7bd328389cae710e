"""The fault matrix (../shared/faults/, issue 12) as tests against the lab: locks, state, refusals, teardown."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest

from proxshift.lab.lab import Lab
from tests.conftest import CliRunner
from tests.e2e.conftest import until_gone

FAST = ("--poll-interval", "0.1")


def _proxshift(root: Path, *args: str) -> subprocess.Popen[str]:
    """proxshift in its own process (a lock is per process: an in-process second run would share it)."""
    exe = str(Path(sys.executable).parent / "proxshift")
    return subprocess.Popen(
        [exe, "--root", str(root), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _until_phase(run: subprocess.Popen[str], phase: str, status: str = "running") -> Iterator[dict[str, object]]:
    """Read a --json run's events up to (and including) the one where `phase` has `status`."""
    assert run.stdout is not None
    for line in run.stdout:
        event = json.loads(line)
        yield event
        if event.get("event") == "phase" and (event.get("phase"), event.get("status")) == (phase, status):
            return
    pytest.fail(f"the run ended before {phase} was {status}: {run.stderr.read() if run.stderr else ''}")


# -- s03: one lock for every change --------------------------------------------------------------------


def test_deprovision_while_provision_waits_is_refused_and_changes_nothing(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s03c: `deprovision --yes` during a provision's wait destroyed every VM and archived the install dir."""
    lab.install_seconds = 6.0  # a window in which the provision is surely still waiting
    provision = _proxshift(predecessor_root, "provision", "ocp-sno2", "--json", "--skip", "acm", *FAST)
    try:
        list(_until_phase(provision, "wait"))
        install_dir = predecessor_root / "ocp_install" / "ocp-sno2"
        assert (install_dir / ".lock").read_text() == f"{provision.pid} proxshift provision ocp-sno2\n"
        for argv in (("deprovision", "ocp-sno2", "--yes"), ("stop", "ocp-sno2"), ("vms", "create", "ocp-sno2")):
            refused = cli("--root", predecessor_root, *argv)
            assert refused.code == 2, refused.err
            assert (
                f"another proxshift run (PID {provision.pid}: proxshift provision ocp-sno2) is working on ocp-sno2"
                in refused.err
            )
        assert lab.pve.vm(302) is not None and lab.pve.vm(302).status == "running"
        assert not (install_dir / "history").exists()
        status = cli("--root", predecessor_root, "status", "ocp-sno2", "--json")  # read-only: never waits
        assert status.code == 0, status.err
        out, err = provision.communicate(timeout=120)
        assert provision.returncode == 0, err
        assert json.loads(out.splitlines()[-1])["event"] == "summary"
    finally:
        if provision.poll() is None:
            provision.kill()
            provision.communicate()
    assert not (predecessor_root / "ocp_install" / "ocp-sno2" / ".lock").exists()


# -- s04: the state file ----------------------------------------------------------------------------------

BAD_STATES: list[tuple[str, str | bytes | None]] = [
    ("truncated", None),  # the real file cut in half
    ("garbage", b"\x00\xff{garbage"),
    ("list", "[]"),
    ("phases-list", '{"phases": []}'),
    ("phase-string", '{"phases": {"vms": "done"}}'),
    ("directory", None),
]


def _writes(lab: Lab) -> int:
    return len([r for r in lab.pve.requests if r[0] != "GET"])


def _sums(install_dir: Path) -> dict[str, bytes]:
    names = ("agent.x86_64.iso", "auth/kubeconfig", "auth/kubeadmin-password", ".openshift_install_state.json")
    return {name: (install_dir / name).read_bytes() for name in names}


def test_an_unusable_state_file_is_refused_and_nothing_is_rebuilt(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s04: a truncated, garbage or wrong-shaped state.json gave 'unexpected AttributeError', or was taken as empty."""
    built = cli("--root", predecessor_root, "provision", "ocp-sno2", "--skip", "wait", "--skip", "credentials")
    assert built.code == 0, built.err  # the VM runs, the install is under way, nothing in Vault yet
    install_dir = predecessor_root / "ocp_install" / "ocp-sno2"
    state_file = install_dir / "state.json"
    good = state_file.read_text()
    before, writes = _sums(install_dir), _writes(lab)
    for name, content in BAD_STATES:
        state_file.unlink()
        if name == "directory":
            state_file.mkdir()
        elif name == "truncated":
            state_file.write_text(good[: len(good) // 2])
        elif isinstance(content, bytes):
            state_file.write_bytes(content)
        else:
            assert content is not None
            state_file.write_text(content)
        for argv in (("provision", "ocp-sno2"), ("provision", "ocp-sno2", "--dry-run")):
            refused = cli("--root", predecessor_root, *argv, *FAST)
            assert refused.code == 2, (name, refused.err)
            assert f"error: cannot use the state file {state_file}: " in refused.err, name
            assert f"mv {state_file} {state_file}.bad" in refused.err, name
            assert "unexpected" not in refused.err
        assert _writes(lab) == writes, name
        assert _sums(install_dir) == before, name
        if name == "directory":
            state_file.rmdir()
        state_file.write_text(good)


def test_a_lost_state_file_never_makes_a_new_image_over_the_old_one(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s04e: state.json deleted while the install runs: a re-run made a new image and replaced the ISO."""
    built = cli("--root", predecessor_root, "provision", "ocp-sno2", "--skip", "wait", "--skip", "credentials")
    assert built.code == 0, built.err
    install_dir = predecessor_root / "ocp_install" / "ocp-sno2"
    (install_dir / "state.json").unlink()
    before, writes = _sums(install_dir), _writes(lab)
    for argv in (("provision", "ocp-sno2"), ("provision", "ocp-sno2", "--only", "iso")):
        refused = cli("--root", predecessor_root, *argv, *FAST)
        assert refused.code == 2, refused.err
        assert (
            "error: ocp_install/ocp-sno2 holds what an earlier 'agent create image' made (ocp_install/ocp-sno2/auth, "
            "ocp_install/ocp-sno2/.openshift_install_state.json), but the state file is missing: proxshift will not "
            "make a new image over it\n"
        ) in refused.err
        assert "'proxshift provision ocp-sno2 --from upload'" in refused.err
        assert _sums(install_dir) == before and _writes(lab) == writes
        assert not (install_dir / "install-config.yaml").exists()  # not even the manifests were written
    resumed = cli("--root", predecessor_root, "provision", "ocp-sno2", "--from", "upload", *FAST)
    assert resumed.code == 0, resumed.err
    assert "your_nfs:iso/ocp-sno2-agent.x86_64.iso on pve3: already there, skipped" in resumed.err
    assert _sums(install_dir)["auth/kubeconfig"] == before["auth/kubeconfig"]
    # It reached the end: manifests and iso are not "not done yet" (the cluster they build is installed), and
    # the closing hint was 'the rest: proxshift provision ocp-sno2', a command that refuses (exit 2).
    assert "not done yet" not in resumed.err and "ocp-sno2 provisioned in " in resumed.err
    assert "not recorded: manifests, iso, which build the cluster; it is installed" in resumed.err
    assert "A re-run: proxshift provision ocp-sno2 --from start (without --from" in resumed.err
    again = cli("--root", predecessor_root, "provision", "ocp-sno2", "--from", "start", *FAST)
    assert again.code == 0, again.err
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST).code == 2  # what the line warns of


def test_vms_gone_after_deprovision_keep_files_are_built_again(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s11b: after `deprovision --keep-files` a re-run skipped upload, vms and start and said provisioned, 0 VMs."""
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", "--skip", "acm", *FAST).code == 0
    down = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes", "--keep-files", "--keep-acm")
    assert down.code == 0, down.err + down.out
    assert lab.pve.vm(302) is None
    creds = cli("--root", predecessor_root, "credentials", "ocp-sno2")
    assert "ocp-sno2 was deprovisioned" in creds.err
    until_gone(lab, "ocp-sno2")
    again = cli("--root", predecessor_root, "provision", "ocp-sno2", "--skip", "acm", *FAST)
    assert again.code == 0, again.err
    assert "recorded done, but your_nfs:iso/ocp-sno2-agent.x86_64.iso on pve3 is gone from its storage" in again.err
    assert "recorded done, but VM master-sno2 (vmid 302) does not exist: running it again" in again.err
    for phase in ("upload", "vms", "start", "wait", "credentials"):
        assert f"✓ {phase}" in again.err, phase
    assert lab.pve.vm(302) is not None and lab.pve.vm(302).status == "running"
    assert "ocp-sno2 was deprovisioned" not in cli("--root", predecessor_root, "credentials", "ocp-sno2").err


def test_a_vm_removed_by_hand_is_created_again(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    """s11: a VM destroyed outside proxshift; the state still said vms done."""
    skip = ("--skip", "wait", "--skip", "credentials", "--skip", "acm")
    assert cli("--root", predecessor_root, "provision", "ocp", *skip, *FAST).code == 0
    lab.pve.vms.remove(lab.pve.vm(402))
    lab.pve.vm(403).status = "stopped"
    again = cli("--root", predecessor_root, "provision", "ocp", *skip, *FAST)
    assert again.code == 0, again.err
    assert "recorded done, but VM ocp-node2 (vmid 402) does not exist: running it again" in again.err
    assert "the VMs were created in this run" not in again.err  # start runs because a VM is created, not by luck
    assert lab.pve.vm(402) is not None and lab.pve.vm(402).status == "running"
    assert lab.pve.vm(403).status == "running"


# -- s06c and s08: a refusal changes nothing ---------------------------------------------------------------


def test_deprovision_refuses_a_foreign_vm_before_detaching_from_acm(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s06c: a live, imported cluster with a foreign VM on an inventory vmid: the detach came before the refusal."""
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST).code == 0
    hub = lab.clusters["ocp-sno1"].kube.store
    assert hub.find("cluster.open-cluster-management.io/v1", "ManagedCluster", "ocp-sno2") is not None
    lab.pve.vm(302).status = "stopped"
    lab.pve.vms.remove(lab.pve.vm(302))
    lab.pve.add_vm(302, "someones-db", node="pve3")
    for argv in (("deprovision", "ocp-sno2", "--yes"), ("provision", "ocp-sno2", "--force", "--yes")):
        refused = cli("--root", predecessor_root, *argv, *(FAST if argv[0] == "provision" else ()))
        assert refused.code == 2, refused.err
        assert "refusing to change anything" in refused.err and "someones-db" in refused.err
        assert hub.find("cluster.open-cluster-management.io/v1", "ManagedCluster", "ocp-sno2") is not None
        assert (predecessor_root / "ocp_install" / "ocp-sno2" / "state.json").exists()


def test_deprovision_with_a_read_only_install_dir_refuses_before_destroying(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s08b: deprovision destroyed the VMs, then failed to archive the read-only install dir."""
    import os
    import shutil

    skip = ("--skip", "wait", "--skip", "credentials", "--skip", "acm")
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", *skip, *FAST).code == 0
    install_dir = predecessor_root / "ocp_install" / "ocp-sno2"
    exe = str(Path(sys.executable).parent / "proxshift")
    argv = [exe, "--root", str(predecessor_root), "deprovision", "ocp-sno2", "--yes"]
    if os.geteuid() == 0:  # root writes anywhere: drop the capability that lets it, as fault scenario s08 does
        capsh = shutil.which("capsh")
        if capsh is None:
            pytest.skip("running as root without capsh: permission bits are not enforced")
        argv = [capsh, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", subprocess.list2cmdline(argv)]
    (install_dir / ".lock").touch(mode=0o600)  # a lock file left by a killed run: the lock itself still works
    install_dir.chmod(0o500)
    try:
        refused = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    finally:
        install_dir.chmod(0o700)
    assert refused.returncode == 2, refused.stderr
    assert "error: cannot move ocp_install/ocp-sno2 to its history/: ocp_install/ocp-sno2 is not writable" in (
        refused.stderr
    )
    assert "nothing was changed" in refused.stderr and "--keep-files" in refused.stderr
    assert lab.pve.vm(302) is not None and lab.pve.vm(302).status == "running"


def test_deprovisioning_twice_leaves_one_history_entry(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    """s11: the second deprovision has nothing to archive, and says so without an empty history entry."""
    skip = ("--skip", "wait", "--skip", "credentials", "--skip", "acm")
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", *skip, *FAST).code == 0
    assert cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes").code == 0
    again = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes")
    assert again.code == 0, again.err
    assert "destroy    no VM: none of the cluster's VMs exists" in again.err
    history = predecessor_root / "ocp_install" / "ocp-sno2" / "history"
    assert len(list(history.iterdir())) == 1
    remaining = sorted(p.name for p in (predecessor_root / "ocp_install" / "ocp-sno2").iterdir())
    assert remaining == ["audit.jsonl", "history"]  # the audit trail stays with the cluster, across archives


def test_a_vm_that_cannot_be_destroyed_ends_the_deprovision_with_an_error_and_a_hint(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s11: a VM locked by a backup: exit 1 and a FAILED row in the table, but no error line nor hint."""
    skip = ("--skip", "wait", "--skip", "credentials", "--skip", "acm")
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", *skip, *FAST).code == 0
    lab.pve.vm(302).lock = "backup"
    failed = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes", "--keep-acm")
    assert failed.code == 1, failed.err
    assert "FAILED: " in failed.out
    error = [line for line in failed.err.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and error[0].startswith("error: 1 of 1 failed: destroy master-sno2 (vmid 302 on pve3): ")
    assert error[0].endswith("VM is locked (backup)")
    assert (
        "hint: VM 302 is locked (backup) on pve3: wait for the backup to end, or, if none runs, 'qm unlock 302' on "
        "pve3; then 'proxshift deprovision ocp-sno2' again (the install directory stays until every VM is gone)"
    ) in failed.err
    assert lab.pve.vm(302) is not None and (predecessor_root / "ocp_install" / "ocp-sno2" / "state.json").exists()
    lab.pve.vm(302).lock = None
    assert cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes", "--keep-acm").code == 0
    assert lab.pve.vm(302) is None


def test_deprovision_says_why_the_configured_backup_was_skipped(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s05: the consent lists "backup the configured Secrets, first"; when the backup could not be made (here
    the cluster is stopped, its API gone) the VMs went without a word about it: the run's notices were dropped."""
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", "--skip", "acm", *FAST).code == 0
    assert cli("--root", predecessor_root, "stop", "ocp-sno2").code == 0
    until_gone(lab, "ocp-sno2")
    gone = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes", "--keep-acm")
    assert gone.code == 0, gone.err
    assert "backup     the configured Secrets, first" in gone.err
    assert "backup skipped: " in gone.err and "earlier backups in Vault stay" in gone.err
    assert lab.pve.vm(302) is None


def test_a_re_run_after_the_credentials_names_the_api_and_console_it_stored(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s02b/c/d: the re-run after an acm that failed or was interrupted skipped wait and credentials (done) and
    ended with 'API: -' and 'console: (see proxshift credentials)', though Vault held the API URL."""
    first = cli("--root", predecessor_root, "provision", "ocp-sno2", "--skip", "acm", *FAST)
    assert first.code == 0, first.err
    again = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert again.code == 0, again.err
    assert re.search(r"↷ credentials\s+skipped: done, inputs unchanged", again.err)
    assert f"  API:         {lab.clusters['ocp-sno2'].kube.url}\n" in again.err
    assert "  console:     https://console-openshift-console.apps.ocp-sno2.homelab.local\n" in again.err


# -- s05: Vault -------------------------------------------------------------------------------------------


def test_deprovision_refuses_when_the_configured_hub_cannot_be_reached(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s05f: with Vault (which holds the hub's kubeconfig) down, `deprovision --yes` destroyed the VM and left
    the ManagedCluster on the hub, its consent line saying "ACM nothing to detach (...)"."""
    assert cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST).code == 0
    hub = lab.clusters["ocp-sno1"].kube
    managed = ("cluster.open-cluster-management.io/v1", "ManagedCluster", "ocp-sno2")
    assert hub.store.find(*managed) is not None
    hint = "run again with --keep-acm to leave the ManagedCluster on the hub (detach it later: proxshift acm detach"
    hub.available = False  # the hub's API down, Vault up
    refused = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes")
    assert refused.code == 1, refused.err
    assert "error: cannot detach ManagedCluster ocp-sno2 from the ACM hub: hub ocp-sno1 (" in refused.err
    assert "is unreachable" in refused.err and hint in refused.err
    forced = cli("--root", predecessor_root, "provision", "ocp-sno2", "--force", "--yes", *FAST)
    assert forced.code == 1, forced.err
    assert "error: cannot detach ManagedCluster ocp-sno2 from the ACM hub: hub ocp-sno1 (" in forced.err
    assert "take it down with 'proxshift deprovision ocp-sno2 --keep-acm'" in forced.err
    assert lab.pve.vm(302) is not None and lab.pve.vm(302).status == "running"
    hub.available = True
    assert lab.bao is not None
    lab.bao.stop()
    for argv in (("--yes",), ("--dry-run",)):
        refused = cli("--root", predecessor_root, "deprovision", "ocp-sno2", *argv)
        assert refused.code == 1, refused.err
        why = "cannot detach ManagedCluster ocp-sno2 from the ACM hub: cannot get the ACM hub's kubeconfig: Vault at "
        assert f"error: {why}" in refused.err, argv
        assert hint in refused.err and "nothing to detach" not in refused.out + refused.err
    assert f"ACM        {why}" in refused.out
    assert lab.pve.vm(302) is not None and lab.pve.vm(302).status == "running"
    assert hub.store.find(*managed) is not None
    assert (predecessor_root / "ocp_install" / "ocp-sno2" / "state.json").exists()
    kept = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes", "--keep-acm")
    assert kept.code == 0, kept.err
    assert "ACM        nothing to detach (kept: --keep-acm)" in kept.err
    assert lab.pve.vm(302) is None and hub.store.find(*managed) is not None


def test_a_token_of_ones_own_in_a_lab_shell_gets_vaults_hint_not_the_restart_one(
    predecessor_root: Path, lab: Lab, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s05: a shell that sourced .lab/env and then set VAULT_TOKEN (a policy's token, a wrong one) or
    VAULT_ADDR itself was told "the lab was restarted since this shell sourced its variables" in place of
    Vault's own hint (the policy to grant, log in again), though the lab ran on, unchanged."""
    assert lab.bao is not None
    vault = hvac.Client(url=lab.bao.addr, token=lab.bao.root_token)
    vault.sys.create_or_update_policy(name="partial", policy='path "secrets/data/your-*" { capabilities = ["read"] }')
    partial = str(vault.auth.token.create(policies=["partial"], ttl="1h")["auth"]["client_token"])
    monkeypatch.setenv("VAULT_TOKEN", partial)
    denied = cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST)
    assert denied.code == 1, denied.err
    assert "permission denied: read on secrets/data/openshift/pullsecret" in denied.err
    assert "give the token's policy the 'read' capability" in denied.err and "restarted" not in denied.err
    monkeypatch.setenv("VAULT_TOKEN", "hvs.not-a-token")
    rejected = cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST)
    assert rejected.code == 1, rejected.err
    assert "rejected the token" in rejected.err and "log in again" in rejected.err
    assert "restarted" not in rejected.err

    # The lab restarted under the shell: every secret of its .lab/env is new, and that is what is said.
    monkeypatch.setenv("VAULT_TOKEN", "0" * 32)
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_SECRET", "0" * 32)
    stale = cli("--root", predecessor_root, "status", "ocp-sno1")
    assert stale.code == 1, stale.err
    assert "the lab was restarted since this shell sourced its variables: run '. " in stale.err


# -- s08: the disk ---------------------------------------------------------------------------------------


def test_a_state_file_that_cannot_be_written_mid_run_is_an_error_naming_it(predecessor_root: Path, lab: Lab) -> None:
    """s08: the install dir read-only (or the disk full) once the run was under way: recording the phase that
    had just finished raised "unexpected PermissionError / OSError inside proxshift". Here state.json is made
    a directory while the run waits (root ignores permission bits; a directory is refused all the same)."""
    lab.install_seconds = 4.0
    provision = _proxshift(predecessor_root, "provision", "ocp-sno2", "--json", "--skip", "acm", *FAST)
    state_file = predecessor_root / "ocp_install" / "ocp-sno2" / "state.json"
    list(_until_phase(provision, "wait"))
    state_file.unlink()
    state_file.mkdir()
    out, err = provision.communicate(timeout=120)
    assert provision.returncode == 1, err
    assert "unexpected" not in out + err
    assert f"cannot write the state file {state_file}" in err
    events = [json.loads(line) for line in out.splitlines()]
    assert {"phase": "wait", "status": "failed"}.items() <= events[-2].items()


def test_an_uploads_ledger_that_cannot_be_written_fails_the_upload_phase_naming_it(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s08: uploads.json unwritable (the disk full, a read-only directory) after the ISO was uploaded: 'unexpected
    OSError inside proxshift'. Here it is a directory (root ignores permission bits; a directory is refused)."""
    ledger = predecessor_root / "ocp_install" / "ocp-sno2" / "uploads.json"
    ledger.mkdir(parents=True)
    failed = cli("--root", predecessor_root, "provision", "ocp-sno2", "--skip", "acm", *FAST)
    assert failed.code == 1, failed.err
    assert "unexpected" not in failed.err
    assert re.search(r"✗ upload\s+failed", failed.err)
    assert f"error: cannot write the uploads ledger {ledger}: " in failed.err
    assert "'proxshift iso upload ocp-sno2 --replace' takes it over" in failed.err
    assert lab.pve.vm(302) is None  # nothing after the upload ran
