"""One run per cluster: ocp_install/<cluster>/.lock holds the running process's PID."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator

from proxshift.config.install_dir import InstallDir
from proxshift.engine.audit import trail
from proxshift.errors import UserInputError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


@contextlib.contextmanager
def cluster_lock(install_dir: InstallDir, cluster: str, notify: Callable[[str], None]) -> Iterator[None]:
    """One run per cluster; a lock left by a dead process is taken over, with a notice. What the holder
    does is recorded in the cluster's audit trail."""
    install_dir.path.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = install_dir.lock_file
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                holder = int(lock.read_text().strip() or "0")
            except (OSError, ValueError):
                holder = 0
            if holder and _alive(holder):
                raise UserInputError(
                    f"another proxshift run (PID {holder}) is working on {cluster}",
                    f"wait for it to finish; if it is gone for good, remove {lock}",
                ) from None
            notify(f"taking over a stale lock of PID {holder or '?'} (that process is gone)")
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        break
    try:
        with trail(install_dir):
            yield
    finally:
        lock.unlink(missing_ok=True)
