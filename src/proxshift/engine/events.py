"""What a run tells its caller, as typed events; the CLI renders them (live, plain lines or --json).

Events are plain data: no rendering, no I/O. A new kind is a new frozen dataclass here, added to
`Event`; mypy then points at every renderer that does not handle it yet (docs/provisioning.md
documents the --json form of each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, get_args

from proxshift.errors import UserInputError

Finished = Literal["done", "failed", "interrupted"]


@dataclass(frozen=True)
class PhaseStarted:
    phase: str


@dataclass(frozen=True)
class PhaseFinished:
    phase: str
    status: Finished
    seconds: float


@dataclass(frozen=True)
class PhaseSkipped:
    phase: str
    reason: str  # "not selected", "done, inputs unchanged", "not configured: <why>"


@dataclass(frozen=True)
class Log:
    """A line about what a phase did or is doing."""

    phase: str
    message: str


@dataclass(frozen=True)
class Notice:
    """Something the user should know that does not stop the run (rendered as a warning)."""

    message: str


@dataclass(frozen=True)
class Output:
    """A line of a child process's output (openshift-install)."""

    phase: str
    line: str


@dataclass(frozen=True)
class Progress:
    """Bytes sent of a transfer (the ISO upload), one target at a time."""

    phase: str
    target: str
    done: int
    total: int


@dataclass(frozen=True)
class Summary:
    """The end of a successful run."""

    cluster: str
    console_url: str | None
    api_url: str | None
    credentials: str | None
    seconds: float
    ran: tuple[str, ...] = ()  # the phases this run ran, in order
    remaining: tuple[str, ...] = ()  # the cluster's phases not done yet (none: it is provisioned)
    verb: str = "provisioned"  # what a run that leaves nothing undone did ("finished": `proxshift post`)
    command: str = "provision"  # the command that runs the rest

    @property
    def provisioned(self) -> bool:
        return not self.remaining


@dataclass(frozen=True)
class Error:
    """The end of a failed run: the same message, hint and exit code the error boundary prints."""

    message: str
    hint: str | None
    exit_code: int


Event: TypeAlias = PhaseStarted | PhaseFinished | PhaseSkipped | Log | Notice | Output | Progress | Summary | Error
EVENT_TYPES: tuple[type[Event], ...] = get_args(Event)


class Reporter(Protocol):
    """Whoever receives a run's events (a renderer, a test's list.append)."""

    def __call__(self, event: Event, /) -> None: ...


class Confirm(Protocol):
    """Asks before anything destructive: shown the question and what goes, True to go ahead.

    Answering no is `False` (the engine then raises `Aborted`); a caller that cannot ask raises itself."""

    def __call__(self, question: str, items: list[str], /) -> bool: ...


def without_consent(question: str, items: list[str], /) -> bool:
    """The engine's default: nobody to ask, so nothing destructive happens."""
    raise UserInputError(
        question + "\n  " + "\n  ".join(items), "nothing was changed; this needs consent (the CLI asks, or --yes)"
    )
