"""Error types carrying a user-facing message, a hint and an exit code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes users script against (see docs/configuration.md)."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    BOOTSTRAP_FAILED = 5
    INSTALL_FAILED = 6
    INTERRUPTED = 130


class ProxshiftError(Exception):
    """Root of every error proxshift reports to a user: one line plus a hint."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UserInputError(ProxshiftError):
    """A mistake in the command line, the inventory or the site config."""

    exit_code = ExitCode.BAD_INPUT


class OperationError(ProxshiftError):
    """Something proxshift tried to do did not work (a server said no, a task failed)."""

    exit_code = ExitCode.FAILED


def file_error(exc: OSError, doing: str | None = None, hint: str | None = None) -> OperationError:
    """A local file's failure (disk full, read-only, something in the way) as one line: `doing` ("write
    the manifests to DIR"), else the file's path, and the system's reason; never a value being written.
    `hint`: what to do, when the caller knows better than the kind of failure."""
    import errno

    hints = {
        errno.ENOSPC: "free some space on its filesystem, then run again",
        errno.EDQUOT: "free some space (a quota is reached), then run again",
        errno.EROFS: "its filesystem is read-only",
        errno.EACCES: "check its permissions and its directory's",
        errno.EPERM: "check its permissions and its directory's",
        errno.ENOTDIR: "a file is in the way where a directory should be: move it away",
        errno.EISDIR: "a directory is in the way where a file should be: move it away",
        errno.ENOENT: "check the path: a directory on it does not exist",
    }
    names = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
    return OperationError(
        f"cannot {doing or 'use ' + names}: {exc.strerror or type(exc).__name__}",
        hint or hints.get(exc.errno or 0, "check the path, then run again"),
    )


def local_failure(exc: BaseException) -> OperationError | None:
    """An OSError that is a local file's failure, as `file_error` words it: one that names its file, or a full
    disk, a quota or a read-only filesystem met by a write that names none (a write to an open file)."""
    import errno

    if not isinstance(exc, OSError):
        return None
    if exc.filename is not None:
        return file_error(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return file_error(exc, "write a local file")
    return None


class Aborted(ProxshiftError):
    """The user answered no to a question before anything destructive: nothing was changed (exit 1)."""

    exit_code = ExitCode.FAILED

    def __init__(self) -> None:
        super().__init__("aborted, nothing changed")


@dataclass(frozen=True)
class Problem:
    """One finding of validation, pinned to a file and a dotted location in it."""

    file: str
    location: str
    message: str
    fix: str = ""
    severity: str = "error"  # "error" or "warning"
    line: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.location}: {self.message}" if self.location else f"{where}: {self.message}"
        return f"{text} Fix: {self.fix}" if self.fix else text


class InvalidInput(UserInputError):
    """Validation found problems; all of them are carried so they can be printed at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = sum(1 for p in problems if p.is_error)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} {noun} found", "fix the places named above and run again")
