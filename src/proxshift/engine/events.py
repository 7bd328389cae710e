"""What a run tells its caller, as typed events; the CLI renders them (live, plain lines or --json).

Events are plain data: no rendering, no I/O. A new kind is a new frozen dataclass here, added to
`Event`; mypy then points at every renderer that does not handle it yet (docs/provisioning.md
documents the --json form of each). Every event carries the cluster its run is for: the run tags
each one (`tagged`), so that the events of several clusters provisioned at once can be told apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, get_args

from proxshift.errors import ExitCode, ProxshiftError, UserInputError, local_failure

Finished = Literal["done", "failed", "interrupted"]


@dataclass(frozen=True, kw_only=True)
class _Tagged:
    cluster: str = ""  # set by the run that reports it (`tagged`); "" before a run knows its cluster


@dataclass(frozen=True)
class RunStarted(_Tagged):
    """A run begins: every phase of the flow, in order (the live view lists them before they run)."""

    phases: tuple[str, ...]


@dataclass(frozen=True)
class PhaseStarted(_Tagged):
    phase: str
    timeout: float | None = None  # seconds the phase may take at most (the install wait, the ACM import)


@dataclass(frozen=True)
class PhaseFinished(_Tagged):
    phase: str
    status: Finished
    seconds: float


@dataclass(frozen=True)
class PhaseSkipped(_Tagged):
    phase: str
    reason: str  # "not selected", "done, inputs unchanged", "not configured: <why>"


@dataclass(frozen=True)
class Log(_Tagged):
    """A line about what a phase did or is doing."""

    phase: str
    message: str


@dataclass(frozen=True)
class Notice(_Tagged):
    """Something the user should know that does not stop the run (rendered as a warning)."""

    message: str


@dataclass(frozen=True)
class Output(_Tagged):
    """A line of a child process's output (openshift-install)."""

    phase: str
    line: str


@dataclass(frozen=True)
class Progress(_Tagged):
    """Bytes sent of a transfer (the ISO upload), one target at a time."""

    phase: str
    target: str
    done: int
    total: int


@dataclass(frozen=True)
class HostState(_Tagged):
    """Where one host (a VM, a host being installed) stands in a phase; reported when it changes.

    `details` are further columns in order, e.g. (("vmid", "301"), ("node", "pve2")); the live view keeps
    one table row per host, the plain view one line per change."""

    phase: str
    host: str
    state: str
    details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Summary(_Tagged):
    """The end of a successful run."""

    console_url: str | None
    api_url: str | None
    credentials: str | None
    seconds: float
    kubeconfig: str | None = None  # the new cluster's admin kubeconfig (absolute), for `export KUBECONFIG=`
    ran: tuple[str, ...] = ()  # the phases this run ran, in order
    remaining: tuple[str, ...] = ()  # the cluster's phases not done yet (none: it is provisioned)
    verb: str = "provisioned"  # what a run that leaves nothing undone did ("finished": `proxshift post`)
    command: str = "provision"  # the command that runs the rest
    # The build phases (manifests, iso, upload, vms) with no record though the cluster is installed (the state
    # file lost, then `--from upload`): not "not done yet", for the cluster they build is there; a run without
    # `--from` would refuse to build it anew, so the rest runs with `--from resume_from`.
    unrecorded: tuple[str, ...] = ()
    resume_from: str | None = None

    @property
    def provisioned(self) -> bool:
        return not self.remaining


@dataclass(frozen=True)
class Error(_Tagged):
    """The end of a failed run: the same message, hint and exit code the error boundary prints."""

    message: str
    hint: str | None
    exit_code: int


Event: TypeAlias = (
    RunStarted
    | PhaseStarted
    | PhaseFinished
    | PhaseSkipped
    | Log
    | Notice
    | Output
    | Progress
    | HostState
    | Summary
    | Error
)
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


def tagged(report: Reporter, cluster: str) -> Reporter:
    """A reporter that stamps each event with the run's cluster before passing it on."""

    def tag(event: Event, /) -> None:
        report(event if event.cluster == cluster else dataclasses.replace(event, cluster=cluster))

    return tag


def error_event(exc: BaseException, cluster: str = "") -> Error:
    """The event a failed run ends with: what the error boundary (cli/main.py) prints for the same error."""
    exc = local_failure(exc) or exc
    if isinstance(exc, ProxshiftError):
        return Error(exc.message, exc.hint, int(exc.exit_code), cluster=cluster)
    if isinstance(exc, KeyboardInterrupt):
        return Error("interrupted", None, int(ExitCode.INTERRUPTED), cluster=cluster)
    return Error(
        f"unexpected {type(exc).__name__} inside proxshift",
        "run again with --debug for the traceback, and report it",
        int(ExitCode.FAILED),
        cluster=cluster,
    )
