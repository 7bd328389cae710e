"""`iso create`, `wait` and `credentials` against the install stand-ins and OpenBao."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import stat
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from proxshift.clients.install_watch.watcher import InstallFailed, InstallWatcher, WatchSettings
from proxshift.errors import ExitCode
from tests.conftest import CliRunner
from tests.integration.conftest import VaultFixture
from tests.integration.install_lab import InstallLab, play_sno_install


@pytest.fixture
def sno_root(seeded_root: Path, install_lab: InstallLab, vault: VaultFixture) -> Path:
    """Manifests rendered for ocp-sno1; the site config points the watcher at the lab's REST API."""
    config = seeded_root / "config" / "site-config.yaml"
    data = yaml.safe_load(config.read_text())
    config.write_text(
        config.read_text().replace(
            "vault_path: '~/.proxshift/vault-credentials.yml'", f"vault_path: '{vault.mount}/data/openshift'"
        )
        + "\n"
        + yaml.safe_dump({"agent_api_urls": {"ocp-sno1": install_lab.agent.url}})
    )
    del data
    return seeded_root


def _iso_create(root: Path, cli: CliRunner) -> None:
    assert cli("--root", root, "manifests", "ocp-sno1").code == 0
    result = cli("--root", root, "iso", "create", "ocp-sno1")
    assert result.code == 0, result.err


def test_iso_create_runs_the_installer_and_keeps_the_directory_private(sno_root: Path, cli: CliRunner) -> None:
    _iso_create(sno_root, cli)
    directory = sno_root / "ocp_install" / "ocp-sno1"
    for name in (
        "agent.x86_64.iso",
        "auth/kubeconfig",
        "auth/kubeadmin-password",
        ".openshift_install_state.json",
        "proxshift.log",
        "rendered/install-config.yaml",
    ):
        path = directory / name
        assert path.is_file(), name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert stat.S_IMODE((directory / "auth").stat().st_mode) == 0o700
    assert not (directory / "install-config.yaml").exists()  # consumed, as by the real installer
    assert "Generated ISO at" in (directory / "proxshift.log").read_text()


def test_extra_manifests_are_in_openshift_when_the_installer_runs(sno_root: Path, cli: CliRunner) -> None:
    source = sno_root / "manifests" / "ocp-sno1" / "99-chrony.yaml"
    source.parent.mkdir(parents=True)
    source.write_text("apiVersion: machineconfiguration.openshift.io/v1\nkind: MachineConfig\nmetadata: {name: a}\n")
    _iso_create(sno_root, cli)
    directory = sno_root / "ocp_install" / "ocp-sno1"
    log = (directory / "proxshift.log").read_text()
    assert "Adding extra manifest openshift/99-chrony.yaml" in log
    assert not list((directory / "openshift").iterdir())  # consumed with the image, as by the real installer
    for kept in (directory / "rendered").iterdir():  # as the iso phase does for a new image
        (directory / kept.name).write_text(kept.read_text())
    again = cli("--root", sno_root, "iso", "create", "ocp-sno1")  # copies them again for the next image
    assert again.code == 0, again.err
    assert (directory / "proxshift.log").read_text().count("Adding extra manifest openshift/99-chrony.yaml") == 2


def test_iso_create_without_manifests_says_what_to_do(sno_root: Path, cli: CliRunner) -> None:
    result = cli("--root", sno_root, "iso", "create", "ocp-sno1")
    assert result.code == 2
    assert "install-config.yaml is missing" in result.err and "proxshift manifests ocp-sno1" in result.err


def test_installer_failure_shows_its_last_lines(sno_root: Path, cli: CliRunner, install_lab: InstallLab) -> None:
    assert cli("--root", sno_root, "manifests", "ocp-sno1").code == 0
    (sno_root / "ocp_install" / "ocp-sno1" / "install-config.yaml").write_text("metadata: [broken\n")
    result = cli("--root", sno_root, "iso", "create", "ocp-sno1")
    assert result.code == 1
    assert "openshift-install agent create image failed (exit 1)" in result.err
    assert "proxshift.log" in result.err


def test_installer_version_mismatch_names_both(sno_root: Path, cli: CliRunner, install_lab: InstallLab) -> None:
    inventory = sno_root / "inventory" / "clusters.yml"
    text = inventory.read_text()
    start = text.index("        ocp-sno1:")
    inventory.write_text(text[:start] + text[start:].replace('"4.19.1"', '"4.20.2"', 1))
    assert cli("--root", sno_root, "manifests", "ocp-sno1").code == 0
    result = cli("--root", sno_root, "iso", "create", "ocp-sno1")
    assert result.code == 2
    assert "no openshift-install 4.20.2 found" in result.err
    assert f"{install_lab.bin_dir}/openshift-install is 4.19.1" in result.err


def test_wait_follows_the_install_to_the_end(
    sno_root: Path, cli: CliRunner, install_lab: InstallLab, vault: VaultFixture
) -> None:
    _iso_create(sno_root, cli)
    driver = play_sno_install(install_lab)
    result = cli("--root", sno_root, "wait", "ocp-sno1", "--poll-interval", "0.02", "--timeout", "2m")
    driver.join(5)
    assert result.code == 0, result.err
    err = result.err
    expected_in_order = [
        "bootstrap: cluster insufficient 0%: Cluster is not ready for install",
        "bootstrap: cluster ready 0%",
        "validation failing on master-sno1: Host couldn't synchronize with any NTP server",
        "master-sno1 (master, bootstrap): installing-in-progress · Writing image to disk · 45%",
        "master-sno1 (master, bootstrap): installing-in-progress · Rebooting · 70%",
        "bootstrap: the rendezvous host's API is gone (connection dropped); waiting for the cluster's API",
        "bootstrap complete",
        "cluster: [....................] 0% (0 of 890) · operators 3/8 available, 5 progressing, 0 degraded · "
        "nodes 0/1 Ready",
        "cluster: [###########.........] 57% (512 of 890)",
        "cluster: Failing: Cluster operator console is not available (fatal only after 10 min; installs recover)",
        "cluster: no longer failing",
        "cluster: installed 4.19.1",
        "ocp-sno1 is installed",
        "console:     https://console-openshift-console.apps.ocp-sno1.homelab.local",
        f"API:         {install_lab.kube.url}",
        f"credentials: Vault {vault.mount}/data/openshift/ocp-sno1",
    ]
    position = 0
    for line in expected_in_order:
        found = err.find(line, position)
        assert found >= 0, f"missing or out of order: {line}\n---\n{err}"
        position = found
    # Events are read after the cluster in each poll, so one may show up before its host's line.
    assert "event: Installation progress: Writing image to disk" in err
    # the watcher token went along with every REST call; no secret reached the output
    assert {header for _, _, header in install_lab.agent.requests} == {install_lab.token}
    assert install_lab.password not in err + result.out and install_lab.token not in err + result.out
    stored = vault.get("openshift/ocp-sno1")
    kubeconfig = (sno_root / "ocp_install" / "ocp-sno1" / "auth" / "kubeconfig").read_text()
    assert stored == {"api": install_lab.kube.url, "kubeconfig": kubeconfig, "kubeadmin": install_lab.password}


def test_wait_on_an_installed_cluster_returns_at_once(sno_root: Path, cli: CliRunner, install_lab: InstallLab) -> None:
    _iso_create(sno_root, cli)
    install_lab.sim.api_up()
    install_lab.sim.bootstrap_complete()
    install_lab.sim.complete()
    result = cli("--root", sno_root, "wait", "ocp-sno1", "--poll-interval", "0.02")
    assert result.code == 0, result.err
    assert "bootstrap complete" in result.err and "cluster: installed 4.19.1" in result.err


def test_credentials_command(sno_root: Path, cli: CliRunner, install_lab: InstallLab, tmp_path: Path) -> None:
    _iso_create(sno_root, cli)
    install_lab.sim.api_up()
    install_lab.sim.bootstrap_complete()
    install_lab.sim.complete()
    assert cli("--root", sno_root, "wait", "ocp-sno1", "--poll-interval", "0.02").code == 0
    out_file = tmp_path / "kc"
    shown = cli("--root", sno_root, "credentials", "ocp-sno1", "--kubeconfig-out", out_file)
    assert shown.code == 0, shown.err
    assert install_lab.password not in shown.out
    assert "password: (hidden; --show-password prints it)" in shown.out
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert yaml.safe_load(out_file.read_text())["clusters"][0]["cluster"]["server"] == install_lab.kube.url
    revealed = cli("--root", sno_root, "credentials", "ocp-sno1", "--show-password")
    assert f"password: {install_lab.password}" in revealed.out


# -- the watcher's judgement, with a fake clock ---------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _watcher(sno_root: Path, lab: InstallLab, cli: CliRunner, report: list[str], **overrides: float) -> InstallWatcher:
    _iso_create(sno_root, cli)
    directory = sno_root / "ocp_install" / "ocp-sno1"
    settings = WatchSettings(
        agent_url=lab.agent.url,
        kubeconfig=directory / "auth" / "kubeconfig",
        expected_nodes=1,
        cluster="ocp-sno1",
        watcher_token=lab.token,
        poll=5,
        **overrides,
    )
    clock = FakeClock()
    return InstallWatcher(settings, report.append, clock, clock.sleep)


def test_cluster_ready_for_over_a_minute_is_a_bootstrap_failure(
    sno_root: Path, cli: CliRunner, install_lab: InstallLab
) -> None:
    report: list[str] = []
    install_lab.sim.hosts_discovered()
    with pytest.raises(InstallFailed) as caught:
        _watcher(sno_root, install_lab, cli, report).run()
    assert caught.value.exit_code == ExitCode.BOOTSTRAP_FAILED
    assert "'ready' for over a minute" in caught.value.message


def test_pending_user_action_is_a_bootstrap_failure(sno_root: Path, cli: CliRunner, install_lab: InstallLab) -> None:
    install_lab.agent.set_cluster("installing-pending-user-action", "Host master-sno1 booted from the ISO again")
    with pytest.raises(InstallFailed) as caught:
        _watcher(sno_root, install_lab, cli, []).run()
    assert caught.value.exit_code == 5
    assert "booted from the ISO again" in caught.value.message


def test_timeout_in_the_cluster_stage_reports_unhealthy_operators(
    sno_root: Path, cli: CliRunner, install_lab: InstallLab
) -> None:
    install_lab.sim.api_up()
    install_lab.sim.bootstrap_complete()
    install_lab.sim.cluster_progress(870)
    install_lab.sim.operators(6, degraded=("ingress",))
    with pytest.raises(InstallFailed) as caught:
        _watcher(sno_root, install_lab, cli, [], timeout=600).run()
    assert caught.value.exit_code == ExitCode.INSTALL_FAILED
    assert "did not complete within 10m" in caught.value.message
    hint = caught.value.hint or ""
    assert "ingress: Degraded=True: ingress is degraded" in hint
    assert "network: Available=False: network is not available yet" in hint


def test_a_sub_minute_timeout_says_its_seconds(sno_root: Path, cli: CliRunner, install_lab: InstallLab) -> None:
    """Fault issue, item 9: `--timeout 45s` ended in "did not complete within 0 min"."""
    install_lab.sim.installing(10)
    with pytest.raises(InstallFailed) as caught:
        _watcher(sno_root, install_lab, cli, [], timeout=45).run()
    assert caught.value.message == "bootstrap did not complete within 45s"


def test_failing_is_fatal_only_after_ten_minutes(sno_root: Path, cli: CliRunner, install_lab: InstallLab) -> None:
    install_lab.sim.api_up()
    install_lab.sim.bootstrap_complete()
    install_lab.sim.cluster_progress(700, failing="etcd is degraded")
    report: list[str] = []
    with pytest.raises(InstallFailed) as caught:
        _watcher(sno_root, install_lab, cli, report).run()
    assert caught.value.exit_code == 6
    assert "failing for 10 min: etcd is degraded" in caught.value.message


def test_interrupted_wait_resumes(sno_root: Path, cli: CliRunner, install_lab: InstallLab) -> None:
    install_lab.sim.api_up()
    install_lab.sim.bootstrap_complete()
    install_lab.sim.cluster_progress(300)

    def interrupt(line: str) -> None:
        if line.startswith("cluster:"):
            raise KeyboardInterrupt

    _iso_create(sno_root, cli)
    settings = WatchSettings(
        agent_url=install_lab.agent.url,
        kubeconfig=sno_root / "ocp_install" / "ocp-sno1" / "auth" / "kubeconfig",
        expected_nodes=1,
        cluster="ocp-sno1",
        poll=0.01,
    )
    with pytest.raises(KeyboardInterrupt):
        InstallWatcher(settings, interrupt).run()
    install_lab.sim.complete()
    lines: list[str] = []
    installed = InstallWatcher(settings, lines.append).run()
    assert installed.console_url == "https://console-openshift-console.apps.ocp-sno1.homelab.local"
    assert lines[-1] == "cluster: installed 4.19.1"


def test_live_host_rows_for_a_terminal(sno_root: Path, cli: CliRunner, install_lab: InstallLab) -> None:
    """On a terminal `wait` redraws one row per host; the watcher hands them over instead of printing lines."""
    _iso_create(sno_root, cli)
    install_lab.sim.installing(45)
    snapshots: list[list[tuple[str, ...]]] = []
    lines: list[str] = []
    settings = WatchSettings(
        agent_url=install_lab.agent.url,
        kubeconfig=sno_root / "ocp_install" / "ocp-sno1" / "auth" / "kubeconfig",
        expected_nodes=1,
        cluster="ocp-sno1",
        watcher_token=install_lab.token,
        poll=0.01,
    )

    def step(line: str) -> None:
        lines.append(line)
        if line.startswith("  event: Installation progress"):
            install_lab.sim.api_up()
            install_lab.sim.bootstrap_complete()
            install_lab.sim.complete()

    InstallWatcher(settings, step, on_hosts=snapshots.append).run()
    assert snapshots[0][0][:5] == (
        "master-sno1",
        "master, bootstrap",
        "installing-in-progress",
        "Writing image to disk",
        "45%",
    )
    assert snapshots[-1] == []  # cleared once bootstrap is complete
    assert not any("master-sno1 (master" in line for line in lines)  # rows went to the table, not the lines


# -- on a terminal: cluster text is printed as it is ------------------------------------------------------


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _pty_run(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Callable[[], str]]:
    """Start a command with stdout and stderr on a pseudo-terminal (200 columns); returns it and a
    function giving everything it wrote so far, escape codes removed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)

    threading.Thread(target=read, daemon=True).start()
    return process, lambda: ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def test_wait_on_a_terminal_prints_cluster_text_literally(
    sno_root: Path, cli: CliRunner, install_lab: InstallLab
) -> None:
    _iso_create(sno_root, cli)
    install_lab.sim.installing(45)
    install_lab.agent.event("Host master-sno1: writing image to [/dev/sda] [bold]not bold[/bold] [red]")
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200"}
    argv = [sys.executable, "-c", "from proxshift.cli import main; main()", "--root", str(sno_root)]
    process, output = _pty_run([*argv, "wait", "ocp-sno1", "--poll-interval", "0.05"], env)
    try:
        install_lab.wait_for(lambda: "[/dev/sda]" in output())
        install_lab.sim.api_up()
        install_lab.sim.bootstrap_complete()
        install_lab.sim.cluster_progress(512)
        install_lab.wait_for(lambda: "57% (512 of 890)" in output())
        install_lab.sim.complete()
        assert process.wait(30) == 0, output()
    finally:
        if process.poll() is None:
            process.kill()
    text = output()
    assert "event: Host master-sno1: writing image to [/dev/sda] [bold]not bold[/bold] [red]" in text
    assert "cluster: [###########.........] 57% (512 of 890)" in text  # the bar is not read as markup either
    assert "elapsed, waiting up to 120m, until " in text  # the live view's time line
    assert "MarkupError" not in text and "Traceback" not in text
    assert "ocp-sno1 is installed" in text


def test_debug_shows_why_the_rendezvous_host_did_not_answer(
    sno_root: Path, cli: CliRunner, install_lab: InstallLab
) -> None:
    _iso_create(sno_root, cli)
    install_lab.agent.stop()  # nothing listens there any more: connection refused
    result = cli("--root", sno_root, "--debug", "wait", "ocp-sno1", "--timeout", "1s", "--poll-interval", "0.1")
    assert result.code == 5
    assert "never answered (last: connection refused)" in result.err
    assert "NO_PROXY covers 127.0.0.1" in result.err
    assert "ConnectionRefusedError" in result.err  # the underlying exception, in the traceback --debug adds


# -- openshift-install that hangs: stopped on timeout, Ctrl-C and SIGTERM, never left behind ---------------

HANGING_INSTALLER = """#!/bin/sh
if [ "$1" = version ]; then echo "openshift-install 4.19.1"; exit 0; fi
echo 'level=info msg="Extracting base ISO from release payload"'
sleep 600 &
echo $! > "{pids}/grandchild"
echo $$ > "{pids}/leader"
wait
"""


def _hanging_installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An openshift-install first on PATH that prints a line and then hangs, with a child of its own."""
    bin_dir, pids = tmp_path / "hang-bin", tmp_path / "pids"
    bin_dir.mkdir()
    pids.mkdir()
    script = bin_dir / "openshift-install"
    script.write_text(HANGING_INSTALLER.format(pids=pids))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return pids


def _gone(pids: Path) -> list[str]:
    """The hanging installer's processes still running (not zombies), by role, after a moment's grace: a
    SIGKILLed process dies when the kernel next schedules it."""
    deadline = time.monotonic() + 5
    while (running := _running(pids)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return running


def _running(pids: Path) -> list[str]:
    running = []
    for role in ("leader", "grandchild"):
        pid = int((pids / role).read_text())
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            running.append(role)
    return running


def test_a_hanging_installer_is_stopped_at_the_timeout(
    sno_root: Path, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = _hanging_installer(tmp_path, monkeypatch)
    config = sno_root / "config" / "site-config.yaml"
    config.write_text(config.read_text() + "\ninstaller_timeout: 1s\n")
    assert cli("--root", sno_root, "manifests", "ocp-sno1").code == 0
    result = cli("--root", sno_root, "iso", "create", "ocp-sno1")
    assert result.code == 1
    assert "openshift-install agent create image did not finish within 1 s; it was stopped" in result.err
    assert "installer_timeout" in result.err
    assert _gone(pids) == []
    log = (sno_root / "ocp_install" / "ocp-sno1" / "proxshift.log").read_text()
    assert "Extracting base ISO" in log and "stopped openshift-install after 1 s" in log


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_during_iso_create_stops_the_installer(
    sno_root: Path, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: signal.Signals
) -> None:
    pids = _hanging_installer(tmp_path, monkeypatch)
    assert cli("--root", sno_root, "manifests", "ocp-sno1").code == 0
    argv = [sys.executable, "-c", "from proxshift.cli import main; main()", "--root", str(sno_root)]
    process = subprocess.Popen([*argv, "iso", "create", "ocp-sno1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not (pids / "leader").is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signum)  # to proxshift alone, as `kill` or a terminal's Ctrl-C would
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err.decode() + out.decode()
    assert "interrupted" in err.decode(), (out, err)
    assert _gone(pids) == []
    assert (
        "interrupted; openshift-install was stopped"
        in (sno_root / "ocp_install" / "ocp-sno1" / "proxshift.log").read_text()
    )
