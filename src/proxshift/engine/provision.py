"""`provision`: run the selected phases of the flow for one cluster, under its lock, with its state file.

The phases themselves are in engine/phases/ (the list: flow.py). This module chooses them, plans them
(--dry-run), guards a live cluster, runs each one that is not done, and reports it all as events.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator, Sequence
from typing import Any

from proxshift.config.project import Project
from proxshift.engine.events import PhaseFinished, PhaseSkipped, PhaseStarted, Reporter, Summary
from proxshift.engine.lock import cluster_lock
from proxshift.engine.phases.base import Options, Phase, PhaseContext, PhasePlan
from proxshift.engine.phases.flow import PHASES, select
from proxshift.engine.state import State
from proxshift.errors import ExitCode, OperationError, ProxshiftError, UserInputError


class Interrupted(ProxshiftError):
    exit_code = ExitCode.INTERRUPTED


class Provision:
    """Runs (or plans) the phases for one cluster; every side effect is in a phase or the live-cluster guard."""

    verb = "provisioned"  # what the summary says was done

    def __init__(
        self, project: Project, cluster_name: str, options: Options, report: Reporter, phases: Sequence[Phase] = PHASES
    ) -> None:
        self.phases = tuple(phases)
        self.selected = select(options, self.phases)
        self.ctx = PhaseContext(project, cluster_name, options, report, [p.name for p in self.selected])
        self.name = cluster_name
        self.report = report

    # -- plan --------------------------------------------------------------------------------------------

    def plan(self) -> list[PhasePlan]:
        """What each selected phase would do, in order; nothing is changed anywhere."""
        state = State(self.ctx.install_dir.state_file)
        plans = []
        for phase in self.selected:
            why = phase.not_configured(self.ctx)
            details = {"skipped": f"not configured: {why}"} if why else phase.planned(self.ctx)
            plans.append(PhasePlan(phase.name, state.ever_done(phase.name), details))
        return plans

    def outline(self) -> list[tuple[Phase, str | None]]:
        """Every phase of the flow, each with why it would be skipped as not configured (None: it would run)."""
        return [(phase, phase.not_configured(self.ctx)) for phase in self.phases]

    # -- run ---------------------------------------------------------------------------------------------

    def run(self) -> Summary:
        started = time.monotonic()
        ctx = self.ctx
        with cluster_lock(ctx.install_dir, self.name, ctx.notify), _sigterm_as_interrupt():
            live = self.live_api() if "preflight" in ctx.selected else None
            if live and not ctx.options.force:
                raise UserInputError(
                    f"{self.name} is a live cluster: its API at {live} answers with the stored credentials",
                    "nothing was changed; use --force to tear it down and provision it again",
                )
            if live:
                self.tear_down()
            state = State(ctx.install_dir.state_file)  # after a teardown, a fresh one
            state.data["cluster"] = self.name
            for phase in self.phases:
                self._step(phase, state)
        results = ctx.results
        if results.credentials is None:
            from proxshift.engine.phases.install import credentials_path

            results.credentials = credentials_path(ctx)
        summary = Summary(
            self.name, results.console_url, results.api_url, results.credentials, _since(started), self.verb
        )
        self.report(summary)
        return summary

    def _step(self, phase: Phase, state: State) -> None:
        """One phase: skipped (not selected, not configured, done), or run and recorded."""
        ctx = self.ctx
        if phase.name not in ctx.selected:
            self.report(PhaseSkipped(phase.name, "not selected"))
            return
        why = phase.not_configured(ctx)
        if why:
            self.report(PhaseSkipped(phase.name, f"not configured: {why}"))
            return
        inputs = phase.inputs(ctx)
        if not phase.always and state.done(phase.name, inputs) and not ctx.options.only:
            self.report(PhaseSkipped(phase.name, "done, inputs unchanged"))
            return
        self.report(PhaseStarted(phase.name))
        began = time.monotonic()
        try:
            phase.execute(ctx)  # its run between its hooks
        except KeyboardInterrupt:
            self.report(PhaseFinished(phase.name, "interrupted", _since(began)))
            raise Interrupted(
                f"interrupted during {phase.name}; completed phases are recorded",
                f"resume with: proxshift provision {self.name}",
            ) from None
        except ProxshiftError:
            self.report(PhaseFinished(phase.name, "failed", _since(began)))
            raise
        state.record(phase.name, inputs, time.monotonic() - began)
        self.report(PhaseFinished(phase.name, "done", _since(began)))

    # -- live cluster guard ------------------------------------------------------------------------------

    def live_api(self) -> str | None:
        """The API URL if the cluster answers with the credentials in Vault; else None."""
        from proxshift.engine.install import live_api

        return live_api(self.ctx.project, self.name)

    def tear_down(self) -> None:
        """--force on a live cluster: detach from ACM, destroy our VMs, move the install directory to history."""
        from proxshift.engine.deprovision import deprovision
        from proxshift.engine.events import Log

        ctx = self.ctx
        ctx.report(
            Log("preflight", "--force: detaching from ACM, destroying the VMs, moving the install directory to history")
        )
        teardown = deprovision(
            ctx.project,
            self.name,
            acm_timeout=ctx.options.acm_timeout,
            prox=ctx.proxmox(),
            notify=ctx.notify,
            report=lambda m: ctx.report(Log("acm", m.strip())),
        )
        acm = f"ACM detach skipped: {teardown.acm_skipped}" if teardown.acm_skipped else str(teardown.acm)
        ctx.report(Log("acm", acm))
        if teardown.run.failed:
            raise OperationError(
                "tearing the cluster down failed: "
                + "; ".join(f"{r.host}: {r.detail}" for r in teardown.run.results if not r.ok),
                "see 'proxshift status'",
            )
        if teardown.archive:
            shown = ctx.project.paths.shown(teardown.archive)
            ctx.report(Log("preflight", f"previous install directory moved to {shown}"))


def _since(began: float) -> float:
    return round(time.monotonic() - began, 3)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops between steps like Ctrl-C, so the state file stays consistent."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
