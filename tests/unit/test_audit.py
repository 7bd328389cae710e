"""engine/audit.py: where lines go, when, what each carries; the trail outlives an archive."""

from __future__ import annotations

import contextvars
import json
import stat
from pathlib import Path

import pytest

from proxshift.config.install_dir import InstallDir
from proxshift.engine.audit import record, set_command, trail
from proxshift.engine.lock import cluster_lock
from proxshift.engine.vm_run import in_parallel
from proxshift.errors import OperationError, UserInputError


def test_nothing_is_recorded_without_an_open_trail(tmp_path: Path) -> None:
    record("vault.read", path="secrets/data/x")
    assert list(tmp_path.iterdir()) == []


def test_the_lock_holder_writes_to_its_clusters_trail(tmp_path: Path) -> None:
    install_dir = InstallDir(tmp_path / "ocp_install" / "ocp")

    def run() -> None:
        set_command(["post", "ocp", "--only", "labels"])
        with cluster_lock(install_dir, "proxshift post ocp"):
            record("hook", argv=["./a.sh"], exit_code=0)
            in_parallel([1, 2, 3], lambda n: record("proxmox.task", vmid=n))  # worker threads too
        record("after", detail="the lock is gone: not recorded")

    contextvars.copy_context().run(run)
    lines = [json.loads(line) for line in install_dir.audit_log.read_text().splitlines()]
    assert [line["event"] for line in lines] == ["hook", "proxmox.task", "proxmox.task", "proxmox.task"]
    assert sorted(line["vmid"] for line in lines[1:]) == [1, 2, 3]
    assert {line["command"] for line in lines} == {"proxshift post ocp --only labels"}
    assert list(lines[0]) == ["time", "proxshift_version", "command", "event", "argv", "exit_code"]
    assert stat.S_IMODE(install_dir.audit_log.stat().st_mode) == 0o600


def test_lines_are_appended_never_rewritten(tmp_path: Path) -> None:
    install_dir = InstallDir(tmp_path / "c")
    with trail(install_dir):
        record("one")
    first = install_dir.audit_log.read_text()
    with trail(install_dir):
        record("two")
    assert install_dir.audit_log.read_text().startswith(first)
    assert install_dir.audit_log.read_text().count("\n") == 2


def test_an_archive_leaves_the_trail_in_place(tmp_path: Path) -> None:
    install_dir = InstallDir(tmp_path / "c")
    with trail(install_dir):
        record("vault.write", path="p", keys=["api"], version=1)
    (install_dir.path / "state.json").write_text("{}")
    archived = install_dir.archive()
    assert archived is not None and (archived / "state.json").exists()
    assert not (archived / "audit.jsonl").exists()
    assert install_dir.audit_log.is_file()


def test_reads_wait_for_what_follows_and_a_refusal_leaves_no_trace(tmp_path: Path) -> None:
    install_dir = InstallDir(tmp_path / "ocp_install" / "c")
    with pytest.raises(UserInputError), trail(install_dir):
        record("vault.read", path="secrets/data/openshift/pullsecret", keys=["secret"], version=1)
        raise UserInputError("a rule refused the manifests", "nothing was changed")
    assert not (tmp_path / "ocp_install").exists()  # refused: as a dry run
    with trail(install_dir):
        record("vault.read", path="p", keys=["k"], version=1)
        assert not install_dir.audit_log.exists()  # a read alone waits
        record("proxmox.task", vmid=401)
        assert [json.loads(line)["event"] for line in install_dir.audit_log.read_text().splitlines()] == [
            "vault.read",
            "proxmox.task",
        ]
        record("vault.read", path="q", keys=["k"], version=2)
    with pytest.raises(OperationError), trail(install_dir):  # failed (exit 1): what it read is kept
        record("vault.read", path="r", keys=["k"], version=3)
        raise OperationError("Proxmox is unreachable", "check it")
    paths = [json.loads(line).get("path") for line in install_dir.audit_log.read_text().splitlines()]
    assert paths == ["p", None, "q", "r"]


def test_a_trail_that_cannot_be_written_leaves_the_run_s_own_error_the_headline(tmp_path: Path) -> None:
    """A full disk fails the phase first and the trail's last write after it: the phase's error is said."""
    install_dir = InstallDir(tmp_path / "c")
    install_dir.audit_log.mkdir(parents=True)  # the trail cannot be appended to
    with pytest.raises(OperationError) as raised, trail(install_dir):
        record("vault.read", path="secrets/data/x")  # a read: written when the run ends
        raise OperationError("openshift-install agent create image failed", "see proxshift.log")
    assert raised.value.message == "openshift-install agent create image failed"
    assert raised.value.hint is not None
    assert raised.value.hint.startswith("see proxshift.log; and cannot append to the audit trail")
    assert raised.value.hint.endswith("its last lines are lost")
    with pytest.raises(KeyboardInterrupt), trail(install_dir):  # Ctrl-C stays Ctrl-C
        record("vault.read", path="secrets/data/x")
        raise KeyboardInterrupt
    with pytest.raises(OperationError, match="cannot append to the audit trail"), trail(install_dir):
        record("vault.read", path="secrets/data/x")  # a run that ends well: the trail's failure is its error
