"""One run per cluster: an OS lock (flock) on ocp_install/<cluster>/.lock, held for the run's life.

The kernel releases the lock when its process ends, however it ends (kill -9 included), so there is no
stale-PID guessing: a lock file nobody holds is simply taken. The file says who holds it (PID and
command), for the message a second run gets. Only the holder removes it, while still holding it; a
process that locked a file the holder had already removed notices (the path names another file, or
none) and locks the file at the path instead, so two runs never hold "the" lock at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from proxshift.config.install_dir import InstallDir
from proxshift.engine.audit import trail
from proxshift.errors import OperationError, UserInputError, file_error

_held: dict[tuple[str, int], int] = {}  # (lock file, thread) -> depth: a nested take in one thread is free
_guard = threading.Lock()


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its file says."""

    pid: int | None
    command: str

    @classmethod
    def parse(cls, text: str) -> Holder:
        first, _, rest = text.strip().partition(" ")
        return cls(int(first), rest.strip()) if first.isdigit() else cls(None, "")

    def describe(self) -> str:
        if self.pid is None:
            return "another proxshift run"
        return (
            f"another proxshift run (PID {self.pid}: {self.command})"
            if self.command
            else f"another proxshift run (PID {self.pid})"
        )


class Locked(UserInputError):
    """Another process holds the cluster's lock (exit 2: nothing was changed)."""

    def __init__(self, cluster: str, holder: Holder, lock: Path) -> None:
        super().__init__(
            f"{holder.describe()} is working on {cluster}",
            f"nothing was changed; wait for it to finish (the lock {lock} is released when it ends, however it ends)",
        )
        self.holder = holder


@contextlib.contextmanager
def cluster_lock(install_dir: InstallDir, command: str) -> Iterator[None]:
    """Hold the cluster's lock for the block; a second process gets `Locked`. Nested takes in one thread are free.
    What the holder does is recorded in the cluster's audit trail (engine/audit.py)."""
    key = (os.path.abspath(install_dir.lock_file), threading.get_ident())
    with _guard:
        nested = key in _held
        _held[key] = _held.get(key, 0) + 1
    if nested:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return
    created = [d for d in (install_dir.path.parent, install_dir.path) if not d.exists()]
    try:
        fd = _acquire(install_dir, command)
    except BaseException:
        with _guard:
            del _held[key]
        _remove_empty(created)
        raise
    try:
        with trail(install_dir):
            yield
    finally:
        with _guard:
            del _held[key]
        _release(install_dir.lock_file, fd)
        _remove_empty(created)  # a run that wrote nothing leaves no empty ocp_install/<cluster> behind


def holder_of(install_dir: InstallDir) -> Holder | None:
    """Who holds the cluster's lock now, or None when nobody does (read-only: `doctor`, `status`)."""
    try:
        fd = os.open(install_dir.lock_file, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _acquire(install_dir: InstallDir, command: str) -> int:
    path = install_dir.lock_file
    for _ in range(50):
        try:
            install_dir.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError:
            raise OperationError(
                f"{install_dir.path} is a file, not a directory",
                "proxshift keeps the cluster's install directory there: move that file away, then run again",
            ) from None
        except OSError as exc:
            raise file_error(exc, f"create {install_dir.path}") from None
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            continue  # a run that just ended removed the directory it had made: make it again
        except OSError as exc:
            raise OperationError(
                f"cannot open the lock file {path}: {exc.strerror}", f"check the permissions of {install_dir.path}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise Locked(install_dir.cluster, holder, path) from None
        if _is_at(fd, path):
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
            except OSError as exc:  # a full disk: the lock is held, but others could not say who holds it
                _release(path, fd)
                raise file_error(exc, f"write the lock file {path}") from None
            return fd
        os.close(fd)  # the holder before us removed this file on release: lock the one at the path now
    raise OperationError(f"could not take the lock {path}: it kept being replaced", "run again")


def _is_at(fd: int, path: Path) -> bool:
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (at_path.st_dev, at_path.st_ino)


def _read_holder(fd: int) -> Holder:
    """The holder writes its line right after it locks; give it a moment if the file is still empty."""
    for _ in range(10):
        text = os.pread(fd, 4096, 0).decode(errors="replace")
        if text.strip():
            return Holder.parse(text)
        time.sleep(0.02)
    return Holder(None, "")


def _remove_empty(directories: list[Path]) -> None:
    """The directories this process made for its lock, innermost first, if nothing else went into them."""
    for directory in reversed(directories):
        try:
            directory.rmdir()
        except OSError:
            return  # not empty (or not ours to remove any more): it stays


def _release(path: Path, fd: int) -> None:
    try:
        if _is_at(fd, path):
            path.unlink()  # still holding it: nobody else can be holding this file
    except OSError:
        pass  # a read-only directory: the file stays, and the next run simply locks it
    finally:
        os.close(fd)
