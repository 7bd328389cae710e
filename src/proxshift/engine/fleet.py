"""Several clusters at once: each cluster's run in its own process, up to N at a time; their events come back
over one queue to one reporter; each ends with its summary or its error; the worst exit code wins.

Processes, not threads, because a run is more than I/O waits: Ctrl-C and SIGTERM must stop each run between
steps and record what completed, and Python delivers a signal only to a process's main thread, where
`Provision` turns it into that orderly stop (a thread in a 120-minute install wait or an
`openshift-install` run cannot be interrupted from outside). A process also keeps what is process-wide
apart: the SIGTERM handler, the OS lock held in the cluster's name, one Proxmox login per run. On a
terminal Ctrl-C reaches every run at once (one process group); when only this process is signalled
(`kill -INT`, or SIGTERM from a CI runner), it passes the signal on to the runs.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proxshift.engine.events import Error, Event, PhaseFinished, Reporter, Summary, error_event
from proxshift.errors import ExitCode

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from proxshift.config.paths import Paths
    from proxshift.engine.phases.base import Options

GRACE = 2.0  # seconds a run has to notice a Ctrl-C from the terminal before it is passed on to it
# From the mildest ending to the worst: refused (nothing changed) < failed < bootstrap failed < install failed
# < interrupted. The command exits with the worst of its runs.
SEVERITY = (ExitCode.OK, ExitCode.BAD_INPUT, ExitCode.FAILED, ExitCode.BOOTSTRAP_FAILED, ExitCode.INSTALL_FAILED)


def worst(codes: Sequence[int]) -> int:
    """The exit code of several runs: the worst one (interrupted, then install, bootstrap, failed, refused)."""

    def rank(code: int) -> int:
        if code == ExitCode.INTERRUPTED:
            return len(SEVERITY)
        return SEVERITY.index(ExitCode(code)) if code in SEVERITY else SEVERITY.index(ExitCode.FAILED)

    return max(codes, key=rank, default=int(ExitCode.OK))


@dataclass(frozen=True)
class _End:
    """A run's last message on the queue: after it, nothing more comes from that process."""

    cluster: str
    exit_code: int


@dataclass
class Outcome:
    """How one cluster's run ended: its summary, or its error."""

    cluster: str
    exit_code: int
    seconds: float
    summary: Summary | None = None
    error: Error | None = None


def _agree(question: str, items: list[str], /) -> bool:
    """--yes: the consent given on the command line (a run has no terminal to ask on)."""
    del question, items
    return True


def _run_one(paths: Paths, cluster: str, options: Options, events: Any, debug: bool, yes: bool) -> None:
    """In the child process: one cluster's run, every event onto the queue, then its end."""
    if not debug:  # the parent owns the terminal; a library's stray line must not tear its display
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    code = 0
    try:
        from proxshift.config.project import load_project
        from proxshift.engine.events import without_consent
        from proxshift.engine.provision import Provision

        project = load_project(paths, only=[cluster])
        Provision(project, cluster, options, events.put, confirm=_agree if yes else without_consent).run()
    except BaseException as exc:
        if debug:
            import traceback

            traceback.print_exc()
        error = error_event(exc, cluster)
        events.put(error)
        code = error.exit_code
    events.put(_End(cluster, code))


class Fleet:
    """Runs `clusters` with at most `parallel` at once; `run()` returns each one's outcome, in their order."""

    def __init__(
        self,
        paths: Paths,
        clusters: Sequence[str],
        options: Options,
        report: Reporter,
        parallel: int = 1,
        debug: bool = False,
        yes: bool = False,
    ) -> None:
        import multiprocessing

        self.paths, self.options, self.report, self.debug, self.yes = paths, options, report, debug, yes
        self.clusters = list(clusters)
        self.parallel = max(1, parallel)
        self._mp = multiprocessing.get_context("spawn")  # a fresh interpreter: no fork of a threaded parent
        self._events: Any = self._mp.Queue()
        self._pending = list(clusters)
        self._running: dict[str, BaseProcess] = {}
        self._began: dict[str, float] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._interrupted_at: float | None = None
        self._stopping: set[str] = set()  # runs that said they stop (an interrupted phase, their error)
        self._signalled: set[str] = set()

    def run(self) -> list[Outcome]:
        with _sigterm_noted() as sigterm:
            self._start_more()
            while self._running:
                try:
                    self._step()
                except KeyboardInterrupt:
                    self._interrupt(terminate=sigterm.is_set())
        return [self._outcomes[name] for name in self.clusters]

    def _start_more(self) -> None:
        while self._pending and len(self._running) < self.parallel and self._interrupted_at is None:
            cluster = self._pending.pop(0)
            process = self._mp.Process(
                target=_run_one,
                args=(self.paths, cluster, self.options, self._events, self.debug, self.yes),
                name=f"proxshift provision {cluster}",
            )
            process.start()
            self._running[cluster] = process
            self._began[cluster] = time.monotonic()

    def _step(self) -> None:
        try:
            item = self._events.get(timeout=0.2)
        except queue.Empty:
            self._reap()
            self._pass_interrupt_on()
            return
        if isinstance(item, _End):
            self._ended(item.cluster, item.exit_code)
            return
        event: Event = item
        if isinstance(event, Summary):
            self._outcomes[event.cluster] = Outcome(event.cluster, 0, event.seconds, summary=event)
        elif isinstance(event, Error):
            self._stopping.add(event.cluster)
            self._outcomes[event.cluster] = Outcome(event.cluster, event.exit_code, 0.0, error=event)
        elif isinstance(event, PhaseFinished) and event.status == "interrupted":
            self._stopping.add(event.cluster)
        self.report(event)

    def _ended(self, cluster: str, code: int) -> None:
        process = self._running.pop(cluster)
        process.join(5)
        outcome = self._outcomes.get(cluster) or Outcome(cluster, code, 0.0)
        outcome.seconds = round(time.monotonic() - self._began[cluster], 1)
        self._outcomes[cluster] = outcome
        self._start_more()

    def _reap(self) -> None:
        """A run that died without a word (killed, out of memory) ends with an error of its own."""
        for cluster, process in list(self._running.items()):
            if not process.is_alive() and process.exitcode is not None:
                time.sleep(0.2)  # let its last messages through the queue first
                if cluster not in self._running or not self._events.empty():
                    continue
                error = Error(
                    f"the run for {cluster} ended unexpectedly (process exit {process.exitcode})",
                    f"see ocp_install/{cluster}/; resume with: proxshift provision {cluster}",
                    int(ExitCode.FAILED),
                    cluster=cluster,
                )
                self._outcomes[cluster] = Outcome(cluster, error.exit_code, 0.0, error=error)
                self.report(error)
                self._ended(cluster, error.exit_code)

    def _interrupt(self, terminate: bool) -> None:
        """Stop starting runs; SIGTERM goes on to the runs at once, a Ctrl-C after a grace (the terminal may
        have sent it to them already, and a second one would cut their orderly stop short)."""
        if self._interrupted_at is None:
            self._interrupted_at = time.monotonic()
            for cluster in self._pending:
                error = Error("not started: interrupted", f"proxshift provision {cluster}", 130, cluster=cluster)
                self._outcomes[cluster] = Outcome(cluster, 130, 0.0, error=error)
            self._pending = []
        if terminate:
            for cluster, process in self._running.items():
                if cluster not in self._signalled and process.pid:
                    self._signalled.add(cluster)
                    os.kill(process.pid, signal.SIGTERM)

    def _pass_interrupt_on(self) -> None:
        if self._interrupted_at is None or time.monotonic() - self._interrupted_at < GRACE:
            return
        for cluster, process in self._running.items():
            if cluster not in self._stopping | self._signalled and process.pid:
                self._signalled.add(cluster)
                os.kill(process.pid, signal.SIGINT)


class _Flag:
    def __init__(self) -> None:
        self.value = False

    def is_set(self) -> bool:
        return self.value


@contextlib.contextmanager
def _sigterm_noted() -> Iterator[_Flag]:
    """SIGTERM stops the fleet as Ctrl-C does, and is remembered: the runs get it at once."""
    flag = _Flag()

    def handler(signum: int, frame: Any) -> None:
        flag.value = True
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: nothing to install
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)
