"""engine/lock.py: one OS lock per cluster, held for a run's life, released by the kernel when its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from proxshift.config.install_dir import InstallDir
from proxshift.engine.lock import Locked, cluster_lock, holder_of

# A second process that takes the lock, says so, and holds it until its stdin closes (or it is killed).
HOLD = """
import sys
from pathlib import Path
from proxshift.config.install_dir import InstallDir
from proxshift.engine.lock import cluster_lock
with cluster_lock(InstallDir(Path(sys.argv[1])), "proxshift provision c"):
    print("held", flush=True)
    sys.stdin.read()
"""

# N of these start together: each says it is ready, waits for the go file, tries once; the one that got in
# holds the lock until the stop file appears, so a late starter can never get in after it.
TRY = """
import sys, time
from pathlib import Path
from proxshift.config.install_dir import InstallDir
from proxshift.engine.lock import Locked, cluster_lock
directory, go, stop, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
ready.touch()
while not go.exists():
    time.sleep(0.001)
try:
    with cluster_lock(InstallDir(directory), "proxshift provision c"):
        while not stop.exists():
            time.sleep(0.01)
except Locked:
    sys.exit(2)
"""


class Holder:
    def __init__(self, directory: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(directory)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "held\n"

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(10) == 0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    """ocp_install/c: the cluster's name is its install directory's."""
    return tmp_path / "ocp_install" / "c"


@pytest.fixture
def holder(directory: Path) -> Iterator[Holder]:
    held = Holder(directory)
    try:
        yield held
    finally:
        if held.process.poll() is None:
            held.kill()


def test_a_second_process_is_refused_naming_the_holder_s_pid_and_command(directory: Path, holder: Holder) -> None:
    with pytest.raises(Locked) as refused, cluster_lock(InstallDir(directory), "proxshift deprovision c"):
        pytest.fail("the lock was taken twice")
    assert refused.value.message == f"another proxshift run (PID {holder.pid}: proxshift provision c) is working on c"
    assert refused.value.exit_code == 2
    assert "nothing was changed" in (refused.value.hint or "")
    assert holder_of(InstallDir(directory)) is not None
    # The refused process left the holder's file alone: it still names the holder.
    assert (directory / ".lock").read_text() == f"{holder.pid} proxshift provision c\n"
    holder.release()
    assert not (directory / ".lock").exists()  # removed by its holder, on release
    assert holder_of(InstallDir(directory)) is None


def test_a_killed_holder_s_lock_is_free_at_once(directory: Path, holder: Holder) -> None:
    holder.kill()  # kill -9: no clean-up ran, the file still names it
    assert (directory / ".lock").read_text() == f"{holder.pid} proxshift provision c\n"
    with cluster_lock(InstallDir(directory), "proxshift provision c"):
        assert (directory / ".lock").read_text() == f"{os.getpid()} proxshift provision c\n"
    assert not (directory / ".lock").exists()


@pytest.mark.parametrize("content", ["", "garbage", "1", "live"], ids=["empty", "garbage", "pid-1", "live-pid"])
def test_a_lock_file_nobody_holds_is_taken_whatever_it_says(directory: Path, content: str) -> None:
    directory.mkdir(parents=True)
    unrelated = subprocess.Popen(["sleep", "30"])  # a live process that is not proxshift (a reused PID)
    try:
        (directory / ".lock").write_text(str(unrelated.pid) if content == "live" else content)
        with cluster_lock(InstallDir(directory), "proxshift start c"):
            assert (directory / ".lock").read_text() == f"{os.getpid()} proxshift start c\n"
    finally:
        unrelated.kill()
        unrelated.wait()


def test_nested_takes_in_one_thread_are_free_and_another_thread_is_refused(directory: Path) -> None:
    install_dir = InstallDir(directory)
    refused: list[BaseException] = []

    def other_thread() -> None:
        try:
            with cluster_lock(install_dir, "proxshift stop c"):
                pass
        except Locked as exc:
            refused.append(exc)

    with cluster_lock(install_dir, "proxshift provision c"):
        with cluster_lock(install_dir, "proxshift deprovision c"):  # provision --force tears down inside its run
            assert (directory / ".lock").read_text() == f"{os.getpid()} proxshift provision c\n"
        assert (directory / ".lock").exists()  # the inner block released nothing
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(refused) == 1
    assert not (directory / ".lock").exists()


@pytest.mark.parametrize("stale", [False, True], ids=["no-file", "stale-file"])
def test_simultaneous_starts_let_exactly_one_in(tmp_path: Path, stale: bool) -> None:
    for round_ in range(4):
        assert _race(tmp_path / f"round{round_}", stale) == [0, 2, 2, 2, 2], round_


def _race(base: Path, stale: bool) -> list[int]:
    """Five processes try at once; the exit codes, sorted (0: got in, 2: refused)."""
    directory = base / "c"
    directory.mkdir(parents=True)
    if stale:
        (directory / ".lock").write_text("999999 proxshift provision c\n")
    go, stop = base / "go", base / "stop"
    ready = [base / f"ready{i}" for i in range(5)]
    runs = [
        subprocess.Popen([sys.executable, "-c", TRY, str(directory), str(go), str(stop), str(flag)]) for flag in ready
    ]
    try:
        _until(lambda: all(flag.exists() for flag in ready))
        go.touch()
        _until(lambda: sum(run.poll() is not None for run in runs) >= 4)  # the refused ones end at once
        stop.touch()
        return sorted(run.wait(30) for run in runs)
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()


def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_an_unwritable_install_dir_is_an_operation_error_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "ocp_install"
    blocker.write_text("a file where a directory belongs")
    with pytest.raises(Exception) as failed, cluster_lock(InstallDir(blocker / "c"), "proxshift provision c"):
        pass
    assert f"cannot create {blocker / 'c'}" in str(failed.value)
    assert getattr(failed.value, "exit_code", None) == 1


def test_a_run_that_wrote_nothing_leaves_no_empty_install_dir(tmp_path: Path) -> None:
    install_dir = InstallDir(tmp_path / "ocp_install" / "c")
    with cluster_lock(install_dir, "proxshift manifests c"):
        assert install_dir.lock_file.exists()
    assert not (tmp_path / "ocp_install").exists()  # both directories it made are gone again
    with cluster_lock(install_dir, "proxshift provision c"):
        install_dir.state_file.write_text("{}")
    assert sorted(p.name for p in install_dir.path.iterdir()) == ["state.json"]


def test_a_file_where_the_install_dir_or_its_parent_should_be_is_named(tmp_path: Path) -> None:
    from proxshift.errors import OperationError

    (tmp_path / "ocp_install").mkdir()
    (tmp_path / "ocp_install" / "ocp").write_text("not a dir")
    taken = cluster_lock(InstallDir(tmp_path / "ocp_install" / "ocp"), "proxshift provision ocp")
    with pytest.raises(OperationError, match=r"ocp_install/ocp is a file, not a directory") as raised, taken:
        pass
    assert raised.value.hint and "move that file away" in raised.value.hint
    (tmp_path / "elsewhere").write_text("not a dir")
    taken = cluster_lock(InstallDir(tmp_path / "elsewhere" / "ocp"), "proxshift provision ocp")
    with pytest.raises(OperationError, match=r"cannot create .*elsewhere/ocp: Not a directory") as raised, taken:
        pass
    assert raised.value.hint == "a file is in the way where a directory should be: move it away"
