"""Every command that changes a cluster holds its lock (cli/main.py wires it); read-only ones never wait for it."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxshift.cli.main import CHANGES_A_CLUSTER, COMMANDS, READS_A_CLUSTER, app, cluster_parameter
from tests.conftest import CliRunner, ProjectFiles

HOLD = """
import sys
from pathlib import Path
from proxshift.config.install_dir import InstallDir
from proxshift.engine.lock import cluster_lock
with cluster_lock(InstallDir(Path(sys.argv[1])), "proxshift provision sno --skip acm"):
    print("held", flush=True)
    sys.stdin.read()
"""

CHANGING = [
    ("provision", "sno"),
    ("deprovision", "sno", "--yes"),
    ("vms", "create", "sno"),
    ("start", "sno"),
    ("stop", "sno"),
    ("iso", "create", "sno"),
    ("iso", "upload", "sno"),
    ("wait", "sno"),
    ("acm", "import", "sno"),
    ("acm", "detach", "sno"),
    ("manifests", "sno"),
]
NOT_LOCKING = [
    ("status", "sno"),
    ("credentials", "sno"),
    ("show", "sno"),
    ("provision", "sno", "--dry-run"),
    ("deprovision", "sno", "--dry-run"),
    ("vms", "create", "sno", "--dry-run"),
    ("acm", "detach", "sno", "--dry-run"),
    ("manifests", "sno", "--dry-run", "--no-vault"),
]


@pytest.fixture(scope="module")
def held_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A project whose cluster sno is locked by another process for the whole module."""
    from tests.conftest import base_inventory, base_site_config

    root = ProjectFiles(tmp_path_factory.mktemp("root"), base_inventory(), base_site_config()).write()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root / "ocp_install" / "sno")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    try:
        yield root, holder.pid
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


@pytest.mark.parametrize("argv", CHANGING, ids=" ".join)
def test_a_command_that_changes_a_cluster_is_refused_while_another_holds_it(
    held_root: tuple[Path, int], cli: CliRunner, argv: tuple[str, ...]
) -> None:
    root, pid = held_root
    result = cli("--root", root, *argv)
    assert result.code == 2, result.err
    assert f"error: another proxshift run (PID {pid}: proxshift provision sno --skip acm) is working on sno\n" in (
        result.err
    )
    assert "nothing was changed" in result.err
    assert sorted(p.name for p in (root / "ocp_install" / "sno").iterdir()) == [".lock"]


@pytest.mark.parametrize("argv", NOT_LOCKING, ids=" ".join)
def test_read_only_commands_and_dry_runs_do_not_wait_for_it(
    held_root: tuple[Path, int], cli: CliRunner, argv: tuple[str, ...]
) -> None:
    root, _ = held_root
    result = cli("--root", root, *argv)  # they fail further on (no Vault, no Proxmox here), never on the lock
    assert "another proxshift run" not in result.err


def test_an_unknown_cluster_creates_no_install_dir(held_root: tuple[Path, int], cli: CliRunner) -> None:
    root, _ = held_root
    result = cli("--root", root, "start", "nosuch")
    assert result.code == 2
    assert not (root / "ocp_install" / "nosuch").exists()


def test_every_command_on_a_cluster_is_classified() -> None:
    """A new command that takes a cluster must say whether it changes it (and so takes the lock)."""
    registered = {c.name: c.callback for c in app.registered_commands}
    registered |= {
        f"{g.name} {c.name}": c.callback for g in app.registered_groups for c in g.typer_instance.registered_commands
    }
    assert sorted(registered) == sorted(COMMANDS)
    changing, reading = set(CHANGES_A_CLUSTER), set(READS_A_CLUSTER)
    assert not changing & reading
    assert changing | reading <= set(COMMANDS)
    for path, callback in registered.items():
        assert callback is not None
        original = inspect.unwrap(callback)
        if cluster_parameter(original) is None:
            continue
        assert path in changing | reading, f"{path}: add it to CHANGES_A_CLUSTER or READS_A_CLUSTER"
        assert (callback is not original) == (path in changing), path
