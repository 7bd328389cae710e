"""`lab up / status / env / down` as users run them: a background process, stopped exactly by PID."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CliRunner


def _proxshift(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "proxshift")
    return subprocess.run([exe, "--root", str(root), *args], capture_output=True, text=True, timeout=120, check=False)


def _shell(root: Path, script: str) -> subprocess.CompletedProcess[str]:
    """A user's shell: no venv on PATH until .lab/env puts it there."""
    env = {"HOME": os.environ["HOME"], "PATH": "/usr/local/bin:/usr/bin:/bin"}
    return subprocess.run(
        ["bash", "--norc", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_lab_up_status_env_down(predecessor_root: Path) -> None:
    up = _proxshift(predecessor_root, "lab", "up")
    state_file = predecessor_root / ".lab" / "state.json"
    try:
        assert up.returncode == 0, up.stderr
        assert "it SIMULATES Proxmox, Vault and OpenShift" in up.stderr
        state = json.loads(state_file.read_text())
        pids = [state["pid"], state["bao_pid"]]
        assert all(_alive(pid) for pid in pids)
        again = _proxshift(predecessor_root, "lab", "up")
        assert again.returncode == 0 and "already up" in again.stderr
        status = _proxshift(predecessor_root, "lab", "status")
        assert status.returncode == 0
        assert status.stdout.count(" ok") == len(state["services"])
        env = _proxshift(predecessor_root, "lab", "env")
        assert "export VAULT_ADDR=" in env.stdout and "export PROXSHIFT_CONFIG=" in env.stdout
        # The README's next commands work as written: .lab/env puts this proxshift on PATH too.
        readme = _shell(predecessor_root, ". .lab/env && proxshift lab status --json && proxshift clusters")
        assert readme.returncode == 0, readme.stderr
        assert json.loads(readme.stdout.split("\n}\n", 1)[0] + "}")["up"] is True and "ocp-sno1" in readme.stdout
        # A shell that sourced .lab/env before a restart is told to source it again, not to log in again.
        stale = _shell(
            predecessor_root,
            ". .lab/env && proxshift lab down >/dev/null 2>&1 && proxshift lab up >/dev/null 2>&1"
            " && proxshift status ocp-sno1",
        )
        state = json.loads(state_file.read_text())
        pids = [state["pid"], state["bao_pid"]]
        assert stale.returncode == 1, stale.stderr
        assert "the lab was restarted since this shell sourced its variables: run '. " in stale.stderr
        # `lab down` leaves .lab/env behind: a shell that sourced it is told the lab is down, and `lab env` says so.
        gone = _shell(predecessor_root, ". .lab/env && proxshift lab down >/dev/null 2>&1 && proxshift status ocp-sno1")
        assert gone.returncode == 1, gone.stderr
        assert "which is not up: 'proxshift lab up', then '. " in gone.stderr
        no_env = _proxshift(predecessor_root, "lab", "env")
        assert no_env.returncode == 1 and "the lab is not up" in no_env.stderr and not no_env.stdout
    finally:
        down = _proxshift(predecessor_root, "lab", "down")
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids)
    assert not state_file.exists()
    assert _proxshift(predecessor_root, "lab", "status").returncode == 1


@pytest.mark.parametrize("command", ["env"])
def test_lab_commands_without_a_lab(predecessor_root: Path, command: str) -> None:
    result = _proxshift(predecessor_root, "lab", command)
    assert result.returncode == 1
    assert "the lab is not up" in result.stderr


def _env(root: Path) -> dict[str, str]:
    found = {}
    for line in (root / ".lab" / "env").read_text().splitlines():
        if line.startswith("export ") and "PATH=" not in line:
            key, _, value = line.removeprefix("export ").partition("=")
            found[key] = value.strip("'")
    return found


def test_lab_up_plays_faults_and_keeps_the_root_token_off_the_command_line(predecessor_root: Path) -> None:
    import requests

    up = _proxshift(
        predecessor_root,
        "lab",
        "up",
        "--install-seconds",
        "2",
        "--time-scale",
        "0",
        "--pve-node-offline",
        "pve4",
        "--pve-fail",
        "POST /nodes/pve1/qemu 500 unable to create VM - got timeout",
        "--pve-storage-avail",
        "your_nfs=1G",
    )
    try:
        assert up.returncode == 0, up.stderr
        assert "installs take 2 s, operators 3 s, added hosts 6 s; fakepve time scale 0" in up.stderr
        assert "fault: node pve4 offline" in up.stderr
        assert "fault: storage your_nfs: 1073741824 bytes available" in up.stderr
        state = json.loads((predecessor_root / ".lab" / "state.json").read_text())
        assert state["knobs"]["install_seconds"] == 2
        env = _env(predecessor_root)
        port = state["services"]["proxmox (fakepve)"].rsplit(":", 1)[1]
        headers = {"Authorization": f"PVEAPIToken=root@pam!lab={env['PROXSHIFT_PROXMOX_TOKEN_SECRET']}"}
        ca = str(predecessor_root / ".lab" / "pki" / "ca.pem")
        base = f"https://127.0.0.1:{port}/api2/json"
        assert requests.get(f"{base}/nodes/pve4/qemu", headers=headers, verify=ca, timeout=10).status_code == 595
        created = requests.post(f"{base}/nodes/pve1/qemu", data={"vmid": 999}, headers=headers, verify=ca, timeout=10)
        assert created.status_code == 500 and "got timeout" in created.text
        argv = Path(f"/proc/{state['bao_pid']}/cmdline").read_bytes()
        assert env["VAULT_TOKEN"].encode() not in argv
        assert not list(Path("/tmp").glob(f"proxshift-bao-{state['pid']}-*"))
        assert list((predecessor_root / ".lab" / "tmp").glob(f"proxshift-bao-{state['pid']}-*"))
        status = _proxshift(predecessor_root, "lab", "status")
        assert "fault: request fails: POST /nodes/pve1/qemu 500 unable to create VM - got timeout" in status.stderr
    finally:
        down = _proxshift(predecessor_root, "lab", "down")
    assert down.returncode == 0, down.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--pve-fail", "POST /nodes/pve1/qemu/301/status/start bogus", "no PVE error 'bogus'; known:"),
        ("--pve-fail", "POST /nodes/pve1/qemu", "expected 'METHOD PATH"),
        ("--pve-node-offline", "pve9", "node pve9 is not in the lab"),
        ("--pve-storage-avail", "nas=1G", "storage nas is not in the lab"),
        ("--pve-storage-avail", "your_nfs", "expected STORAGE=SIZE"),
    ],
)
def test_lab_up_refuses_bad_knobs_before_starting(
    predecessor_root: Path, option: str, value: str, message: str
) -> None:
    result = _proxshift(predecessor_root, "lab", "up", option, value)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (predecessor_root / ".lab" / "state.json").exists()


def test_lab_up_without_the_lab_extra_says_which_to_install(
    predecessor_root: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("proxshift.cli.lab_cmds.LAB_MODULES", ("fakepve", "proxshift_no_such_module"))
    result = cli("--root", predecessor_root, "lab", "up")
    assert result.code == 2
    assert "the lab needs the 'lab' extra" in result.err and "proxshift_no_such_module" in result.err
    assert "pip install 'proxshift[lab]'" in result.err and "pipx install --force 'proxshift[lab]'" in result.err
    assert not (predecessor_root / ".lab").exists()
