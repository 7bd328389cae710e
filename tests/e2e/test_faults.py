"""The fault matrix (../shared/faults/, issue 12) as tests against the lab: locks, state, refusals, teardown."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxshift.lab.lab import Lab
from tests.conftest import CliRunner

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
