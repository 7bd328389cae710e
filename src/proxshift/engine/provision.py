"""`provision`: run the selected phases of the flow for one cluster, under its lock, with its state file.

The phases themselves are in engine/phases/ (the list: flow.py). This module chooses them, plans them
(--dry-run), and runs each one that is not done. A phase recorded done is run again when its inputs
changed or its result is gone (state is checked against reality). On a live cluster the phases that
would rebuild it are refused, naming why they would run, and the rest (credentials, acm, ...) resume;
`--force` tears a live cluster down and builds it again, after consent (engine/teardown.py).
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator, Sequence
from typing import Any

from proxshift.config.project import Project
from proxshift.engine.events import (
    Confirm,
    Log,
    PhaseFinished,
    PhaseSkipped,
    PhaseStarted,
    Reporter,
    RunStarted,
    Summary,
    tagged,
    without_consent,
)
from proxshift.engine.lock import cluster_lock
from proxshift.engine.phases.base import Options, Phase, PhaseContext, PhasePlan
from proxshift.engine.phases.flow import PHASES, select
from proxshift.engine.state import State
from proxshift.errors import ExitCode, ProxshiftError, UserInputError
from proxshift.processes import ignore_sigint


class Interrupted(ProxshiftError):
    exit_code = ExitCode.INTERRUPTED


class Provision:
    """Runs (or plans) the phases for one cluster; every side effect is in a phase or the --force teardown."""

    verb = "provisioned"  # what the summary says was done
    command = "provision"  # the command: the lock names it, the summary says how to run the rest

    def __init__(
        self,
        project: Project,
        cluster_name: str,
        options: Options,
        report: Reporter,
        phases: Sequence[Phase] = PHASES,
        confirm: Confirm = without_consent,
    ) -> None:
        self.phases = tuple(phases)
        self.selected = select(options, self.phases)
        self.report = tagged(report, cluster_name)  # every event says which cluster it is about
        self.ctx = PhaseContext(project, cluster_name, options, self.report, [p.name for p in self.selected])
        self.name = cluster_name
        self.confirm = confirm
        self._ran: list[str] = []

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
        self.report(RunStarted(tuple(phase.name for phase in self.phases)))
        with cluster_lock(ctx.install_dir, f"proxshift {self.command} {self.name}"), _sigterm_as_interrupt():
            state = self._prepare(State(ctx.install_dir.state_file))
            state.data["cluster"] = self.name
            for phase in self.phases:
                self._step(phase, state)
        return self._summary(state, started)

    def _prepare(self, state: State) -> State:
        """Every refusal that does not depend on a phase's results, before the first change; --force's consent."""
        from proxshift.engine.teardown import consent_to_force, tear_down

        ctx = self.ctx
        rebuild = ctx.options.force and self.live_api() is not None
        if not rebuild:
            self._refuse_an_image_over_unrecorded_one(state)
        if ctx.options.force:
            consent_to_force(ctx, self.live_api() if rebuild else None, self.confirm)
        if rebuild:
            tear_down(ctx)
            ctx.forget_live()
            return State(ctx.install_dir.state_file)  # the old one went to history with the rest
        return state

    def _refuse_an_image_over_unrecorded_one(self, state: State) -> None:
        """A lost state file must not lead to `agent create image` over the outputs of the one before."""
        install_dir = self.ctx.install_dir
        made = install_dir.image_made_here
        if "iso" not in self.ctx.selected or state.recorded("iso") or not made:
            return
        if self.live_api() is not None:
            return  # a live cluster: the guard refuses every rebuild, iso included, and says so
        shown = self.ctx.project.paths.shown
        lost = "the state file is missing" if not state.found else "the state file has no record of the image"
        raise UserInputError(
            f"{shown(install_dir.path)} holds what an earlier 'agent create image' made "
            f"({', '.join(shown(p) for p in made)}), but {lost}: proxshift will not make a new image over it",
            f"nothing was changed; the cluster that image installs may be installing or installed, and "
            f"{shown(install_dir.auth)} holds its only admin credentials. To go on with that install: "
            f"'proxshift provision {self.name} --from upload'; to start over: 'proxshift deprovision {self.name}' "
            "(it moves everything to history/) and provision again",
        )

    def _step(self, phase: Phase, state: State) -> None:
        """One phase: skipped (not selected, not configured, done), refused (a rebuild of a live cluster), or run."""
        ctx = self.ctx
        if phase.name not in ctx.selected:
            self.report(PhaseSkipped(phase.name, "not selected"))
            return
        why = phase.not_configured(ctx)
        if why:
            self.report(PhaseSkipped(phase.name, f"not configured: {why}"))
            return
        parts = phase.input_parts(ctx)
        inputs = phase.inputs(ctx)
        reason, gone = self._why_run(phase, state, parts, inputs)
        if reason is None:
            self.report(PhaseSkipped(phase.name, "done, inputs unchanged"))
            return
        if phase.rebuilds and self.live_api() is not None:
            if gone:  # a by-product of the build went (the ISO deleted after the install): nothing to rebuild
                self.report(PhaseSkipped(phase.name, f"done; {gone}, but the cluster is live"))
                return
            self._refuse_rebuild(phase, reason)
        self.report(PhaseStarted(phase.name, phase.timeout(ctx)))
        if gone:
            self.report(Log(phase.name, f"recorded done, but {gone}: running it again"))
        self._run(phase, state, parts, inputs)

    def _why_run(self, phase: Phase, state: State, parts: dict[str, Any], inputs: str) -> tuple[str | None, str | None]:
        """(why the phase runs, or None to skip it; what of its result is gone, when that is why)."""
        ctx = self.ctx
        if phase.always:
            return "it always runs", None
        if ctx.options.only:
            return f"--only {phase.name}", None
        if not state.ever_done(phase.name):
            missing = "the state file is missing" if not state.found else "it is not recorded as done"
            return missing, None
        if not state.done(phase.name, inputs):
            return f"{' and '.join(state.changed(phase.name, parts)) or 'its inputs'} changed since it was done", None
        if ctx.results.created and _after(phase, "vms", self.phases):
            return f"the VMs were created in this run ({', '.join(ctx.results.created)})", None
        gone = phase.result_gone(ctx)
        return (f"recorded done, but {gone}", gone) if gone else (None, None)

    def _refuse_rebuild(self, phase: Phase, reason: str) -> None:
        names = [p.name for p in self.phases]
        later = [p.name for p in self.phases[names.index(phase.name) + 1 :] if not p.rebuilds]
        rest = f" 'proxshift provision {self.name} --from {later[0]}' runs what follows without it;" if later else ""
        raise UserInputError(
            f"{self.name} is a live cluster (its API at {self.live_api()} answers): {phase.name} would build it "
            f"anew, because {reason}",
            f"nothing was changed;{rest} undo the change to leave the cluster as it is, or "
            f"'proxshift provision {self.name} --force' tears it down and builds it again (it lists what goes and "
            "asks first)",
        )

    def _run(self, phase: Phase, state: State, parts: dict[str, Any], inputs: str) -> None:
        ctx = self.ctx
        began = time.monotonic()
        try:
            phase.execute(ctx)  # its run between its hooks
            state.record(phase.name, inputs, time.monotonic() - began, parts)  # not recorded: not done
        except KeyboardInterrupt:
            # A second Ctrl-C while this one's ending is reported would lose the resume hint: dropped.
            restore = ignore_sigint()
            try:
                self.report(PhaseFinished(phase.name, "interrupted", _since(began)))
            finally:
                restore()
            raise Interrupted(
                f"interrupted during {phase.name}; completed phases are recorded",
                f"resume with: proxshift provision {self.name}",
            ) from None
        except ProxshiftError:
            self.report(PhaseFinished(phase.name, "failed", _since(began)))
            raise
        self._ran.append(phase.name)
        self.report(PhaseFinished(phase.name, "done", _since(began)))

    def _summary(self, state: State, started: float) -> Summary:
        ctx = self.ctx
        results = ctx.results
        if results.credentials is None:
            from proxshift.engine.phases.install import credentials_path

            results.credentials = credentials_path(ctx)
        if results.api_url is None and state.ever_done("credentials"):  # recorded done before: what it stored
            from proxshift.engine.phases.install import stored_urls

            results.console_url, results.api_url = stored_urls(ctx)
        undone = [p for p in self.phases if not p.always and not state.ever_done(p.name) and not p.not_configured(ctx)]
        # Installed (the wait recorded): an unrecorded build phase is nothing to do, and `provision` would refuse it.
        unrecorded = [p.name for p in undone if p.rebuilds] if state.ever_done("wait") else []
        remaining = tuple(p.name for p in undone if p.name not in unrecorded)
        kubeconfig = ctx.install_dir.kubeconfig
        summary = Summary(
            results.console_url,
            results.api_url,
            results.credentials,
            _since(started),
            str(kubeconfig.resolve()) if kubeconfig.is_file() else None,
            tuple(self._ran),
            remaining,
            self.verb,
            self.command,
            tuple(unrecorded),
            self._resume_from(unrecorded),
            cluster=self.name,
        )
        self.report(summary)
        return summary

    def live_api(self) -> str | None:
        return self.ctx.live_api()

    def _resume_from(self, unrecorded: list[str]) -> str | None:
        """The first phase after the last unrecorded build phase that builds nothing: `--from` it skips them."""
        if not unrecorded:
            return None
        names = [p.name for p in self.phases]
        after = self.phases[names.index(unrecorded[-1]) + 1 :]
        return next((p.name for p in after if not p.rebuilds), None)


def _after(phase: Phase, name: str, phases: Sequence[Phase]) -> bool:
    names = [p.name for p in phases]
    return name in names and phase.name in names and names.index(phase.name) > names.index(name)


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
