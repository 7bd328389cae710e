"""files.py: the one private, atomic writer for files that hold secrets or install state."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from proxshift import files
from proxshift.files import private_dir, write_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: whatever is private is so by the writer, not by the user's umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_the_file_is_0600_before_the_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    seen: list[tuple[str, int, int]] = []
    real_fdopen = os.fdopen

    def watching_fdopen(fd: int, *args: Any, **kwargs: Any) -> IO[Any]:
        info = os.fstat(fd)
        seen.append((next(p.name for p in tmp_path.iterdir()), stat.S_IMODE(info.st_mode), info.st_size))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(files.os, "fdopen", watching_fdopen)
    target = tmp_path / "state.json"
    write_private(target, "secret")
    assert seen == [(seen[0][0], 0o600, 0)]
    assert seen[0][0].startswith(".state.json.")  # a hidden temp file beside the target
    assert target.read_text() == "secret"
    assert _mode(target) == 0o600


def test_replacing_keeps_the_old_file_whole_until_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "install-config.yaml"
    target.write_text("old")
    target.chmod(0o644)
    reader = target.open()
    real_replace = os.replace

    def checking_replace(source: str, destination: Path) -> None:
        assert Path(destination).read_text() == "old"  # nobody sees a partial file
        assert Path(source).read_text() == "new"
        real_replace(source, destination)

    monkeypatch.setattr(files.os, "replace", checking_replace)
    write_private(target, "new")
    assert target.read_text() == "new"
    assert _mode(target) == 0o600  # the new file is private, whatever the old one was
    assert reader.read() == "old"  # a reader holding the old file still reads all of it
    reader.close()
    assert [p.name for p in tmp_path.iterdir()] == ["install-config.yaml"]


def test_a_failed_rename_leaves_no_temp_file_and_the_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "uploads.json"
    target.write_text("old")

    def failing_replace(source: str, destination: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        write_private(target, "new")
    assert [p.name for p in tmp_path.iterdir()] == ["uploads.json"]
    assert target.read_text() == "old"


def test_a_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_private(tmp_path / "state.json", b"not text")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(source: str, destination: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_private(tmp_path / "state.json", "x")
    assert list(tmp_path.iterdir()) == []


def test_missing_parents_are_created_private(tmp_path: Path, open_umask: None) -> None:
    write_private(tmp_path / "ocp_install" / "c1" / "state.json", "{}")
    assert _mode(tmp_path / "ocp_install" / "c1") == 0o700
    assert _mode(tmp_path / "ocp_install" / "c1" / "state.json") == 0o600


def test_private_dir_tightens_an_existing_directory(tmp_path: Path) -> None:
    directory = tmp_path / "rendered"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    private_dir(directory)
    assert _mode(directory) == 0o700


def test_scratch_dir_is_private_and_clears_what_dead_processes_left(tmp_path: Path) -> None:
    from proxshift.files import scratch_dir

    base = tmp_path / "tmp"
    dead, alive, other = base / "999999999-x1", base / f"{os.getppid()}-x2", base / "not-a-pid"
    for left in (dead, alive, other):
        left.mkdir(parents=True)
        (left / "ca.crt").write_text("left behind")
    mine = scratch_dir(base)
    assert mine.parent == base and mine.name.startswith(f"{os.getpid()}-")
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700 and stat.S_IMODE(base.stat().st_mode) == 0o700
    assert not dead.exists() and alive.exists() and other.exists()
    assert scratch_dir(base) == mine  # one per process


def test_own_private_dir_is_made_0700_and_refuses_what_others_may_enter(tmp_path: Path, open_umask: None) -> None:
    made = tmp_path / "cache" / "entries"
    assert files.own_private_dir(made)
    assert _mode(made) == 0o700
    made.chmod(0o750)
    assert not files.own_private_dir(made)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    assert not files.own_private_dir(link)  # a link is not the directory itself
    (tmp_path / "plain").write_text("")
    assert not files.own_private_dir(tmp_path / "plain")


def test_own_private_dir_refuses_one_under_a_directory_others_may_write(tmp_path: Path, open_umask: None) -> None:
    """Another user able to write the parent could swap the private directory for a link to their own."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert not files.own_private_dir(shared / "proxshift" / "templates")
    shared.chmod(0o1777)  # sticky, as /tmp: others may rename only their own entries
    assert files.own_private_dir(shared / "proxshift" / "templates")
    assert _mode(shared / "proxshift") == 0o700  # the parents it makes are private too, whatever the umask


def test_a_directory_holding_a_link_on_the_way_counts(tmp_path: Path, open_umask: None) -> None:
    """XDG_CACHE_HOME=/shared/cache, a link in a directory others may write, into a private one: another
    user could point the link elsewhere, so neither the cache nor a program in it is trusted."""
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir()
    shared.chmod(0o777)
    private.mkdir(mode=0o700)
    (shared / "cache").symlink_to(private, target_is_directory=True)
    assert not files.own_private_dir(shared / "cache" / "proxshift")
    assert files.others_could_replace(shared / "cache" / "proxshift") == f"{shared} can be changed by other users"
    shared.chmod(0o755)
    assert files.own_private_dir(shared / "cache" / "proxshift")
    assert files.others_could_replace(shared / "cache" / "proxshift") is None
