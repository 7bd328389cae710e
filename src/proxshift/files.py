"""Files that may hold secrets or install state: private from the first byte, replaced atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def make_private_dirs(path: Path) -> None:
    """`path` and each missing directory above it made 0700, whatever the umask (one another run makes at
    the same moment is used)."""
    for missing in [*reversed(path.parents), path]:
        if not missing.exists():
            missing.mkdir(mode=0o700, exist_ok=True)


def own_private_dir(path: Path) -> bool:
    """Make `path` (0700) when it is missing; whether it is a directory of this user's that no one else may
    enter. A cache proxshift trusts (schema passes, compiled templates) is read and written only then."""
    import stat

    try:
        make_private_dirs(path)
        info = os.lstat(path)
    except OSError:
        return False
    mine = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    return mine and others_could_replace(path) is None


def others_could_replace(path: Path) -> str | None:
    """Why another user could have replaced `path` (a program or a directory of proxshift's cache) with
    their own, or None when no one but this user (or root) could have: it, every directory its path names
    (so each one holding a symbolic link on the way) and every directory it leads to are owned by one of
    them and writable by no other user (or sticky, as /tmp)."""
    try:
        for checked in dict.fromkeys([path, *path.parents, *path.resolve().parents]):
            if not _nobody_else_can_replace(os.stat(checked)):
                return f"{checked} can be changed by other users"
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None


def _nobody_else_can_replace(info: os.stat_result) -> bool:
    """An ancestor in which no one but this user (or root) can rename or replace an entry: owned by one of
    them and writable by no other user, or sticky (/tmp: others may touch only their own entries)."""
    import stat

    if info.st_uid not in (0, os.getuid()):
        return False
    if info.st_mode & stat.S_ISVTX:
        return True
    if info.st_mode & stat.S_IWGRP and info.st_gid != os.getgid():
        return False
    return not info.st_mode & stat.S_IWOTH


def write_private(path: Path, text: str) -> None:
    """Write via a 0600 temp file (mkstemp) and rename: no reader sees it partial or world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


MAKE_WRITABLE = "make room on the disk or make the directory writable"


def write_or_fail(path: Path, text: str, what: str, hint: str) -> None:
    """`write_private`, a failure to write (the disk full, the directory read-only, a directory in the way) an
    OperationError naming `what` and the file: a fault to name, never a crash."""
    from proxshift.errors import file_error

    try:
        write_private(path, text)
    except OSError as exc:
        raise file_error(exc, f"write {what} {path}", hint) from None


_SCRATCH: dict[Path, Path] = {}


def scratch_dir(base: Path) -> Path:
    """This process's private (0700) directory under `base`, for files a library insists on reading from
    disk (the kubernetes client wants a kubeconfig's CA, certificate and key as files).

    Named `<pid>-<random>`: removed when the process exits; one left by a process that was killed
    (kill -9) is removed the next time any proxshift process creates its own.
    """
    import atexit
    import shutil

    from proxshift.processes import pid_alive

    current = _SCRATCH.get(base)
    if current is not None and current.is_dir():
        return current
    private_dir(base)
    for old in base.iterdir():
        owner = old.name.split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not pid_alive(int(owner)):
            shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=base))
    atexit.register(shutil.rmtree, path, True)
    _SCRATCH[base] = path
    return path
