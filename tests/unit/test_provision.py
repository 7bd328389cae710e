"""The provision driver on stand-in phases: the plan and the run are derived from the list it is given."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.project import Project, load_project
from proxshift.engine.events import Event, Log, PhaseFinished, PhaseSkipped, PhaseStarted, RunStarted, Summary
from proxshift.engine.phases.base import Options, Phase, PhaseContext
from proxshift.engine.provision import Interrupted, Provision
from proxshift.errors import OperationError
from tests.conftest import ProjectFiles


class _Stub(Phase):
    description = "a stand-in"
    unconfigured: str | None = None
    failure: BaseException | None = None
    runs = 0

    def not_configured(self, ctx: PhaseContext) -> str | None:
        return self.unconfigured

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        return {"would": f"{self.name} {ctx.name}"}

    def run(self, ctx: PhaseContext) -> None:
        type(self).runs += 1
        if self.failure is not None:
            raise self.failure
        self.log(ctx, f"{self.name} ran")


def stub(name: str, **attributes: Any) -> Phase:
    cls: type[_Stub] = type(f"Stub_{name}", (_Stub,), {"name": name, **attributes})
    return cls()


@pytest.fixture
def loaded(project: ProjectFiles) -> Project:
    return load_project(discover_paths(project.write()))


def _provision(project: Project, phases: list[Phase], options: Options | None = None) -> tuple[Provision, list[Event]]:
    events: list[Event] = []
    return Provision(project, "sno", options or Options(), events.append, phases), events


def test_the_plan_is_each_selected_phase_s_plan_in_order(loaded: Project) -> None:
    phases = [stub("one"), stub("two", unconfigured="no hub here"), stub("three"), stub("four")]
    provision, events = _provision(loaded, phases, Options(skip=("three",)))
    plans = provision.plan()
    assert [p.as_dict() for p in plans] == [
        {"phase": "one", "previously_done": False, "would": "one sno"},
        {"phase": "two", "previously_done": False, "skipped": "not configured: no hub here"},
        {"phase": "four", "previously_done": False, "would": "four sno"},
    ]
    assert events == []
    assert not loaded.paths.install_dir("sno").path.exists()  # a plan writes nothing


def test_the_run_reports_each_phase_and_records_what_it_did(loaded: Project) -> None:
    phases = [stub("always", always=True), stub("once"), stub("unwanted"), stub("hubless", unconfigured="no hub")]
    provision, events = _provision(loaded, phases, Options(skip=("unwanted",)))
    summary = provision.run()
    sno = {"cluster": "sno"}  # every event says which cluster's run it belongs to
    assert events[:-1] == [
        RunStarted(("always", "once", "unwanted", "hubless"), **sno),
        PhaseStarted("always", **sno),
        Log("always", "always ran", **sno),
        PhaseFinished("always", "done", _seconds(events, "always"), **sno),
        PhaseStarted("once", **sno),
        Log("once", "once ran", **sno),
        PhaseFinished("once", "done", _seconds(events, "once"), **sno),
        PhaseSkipped("unwanted", "not selected", **sno),
        PhaseSkipped("hubless", "not configured: no hub", **sno),
    ]
    assert events[-1] == summary and isinstance(summary, Summary) and summary.cluster == "sno"
    state = json.loads(loaded.paths.install_dir("sno").state_file.read_text())
    assert sorted(state["phases"]) == ["always", "once"]  # neither the unselected nor the unconfigured one
    assert not loaded.paths.install_dir("sno").lock_file.exists()

    again, events = _provision(loaded, phases, Options(skip=("unwanted",)))
    again.run()
    assert PhaseSkipped("once", "done, inputs unchanged", cluster="sno") in events
    assert PhaseStarted("always", cluster="sno") in events  # read-only phases run every time
    plans = _provision(loaded, phases)[0].plan()
    assert {p.phase: p.previously_done for p in plans} == {
        "always": True,
        "once": True,
        "unwanted": False,
        "hubless": False,
    }


def _seconds(events: list[Event], phase: str) -> float:
    return next(e.seconds for e in events if isinstance(e, PhaseFinished) and e.phase == phase)


def test_a_failing_phase_stops_the_run_and_is_not_recorded(loaded: Project) -> None:
    phases = [stub("first"), stub("broken", failure=OperationError("it broke", "fix it")), stub("never")]
    provision, events = _provision(loaded, phases)
    with pytest.raises(OperationError, match="it broke"):
        provision.run()
    assert events[-1] == PhaseFinished("broken", "failed", _seconds(events, "broken"), cluster="sno")
    assert not any(isinstance(e, PhaseStarted) and e.phase == "never" for e in events)
    state = json.loads(loaded.paths.install_dir("sno").state_file.read_text())
    assert list(state["phases"]) == ["first"]


def test_ctrl_c_in_a_phase_is_exit_130_with_a_resume_hint(loaded: Project) -> None:
    provision, events = _provision(loaded, [stub("slow", failure=KeyboardInterrupt())])
    with pytest.raises(Interrupted) as raised:
        provision.run()
    assert raised.value.exit_code == 130
    assert raised.value.hint == "resume with: proxshift provision sno"
    assert events[1:] == [
        PhaseStarted("slow", cluster="sno"),
        PhaseFinished("slow", "interrupted", _seconds(events, "slow"), cluster="sno"),
    ]


def test_a_second_ctrl_c_while_the_first_is_reported_keeps_the_resume_hint(project: ProjectFiles) -> None:
    """Ctrl-C pressed twice (or the one `timeout --foreground` passes on, a moment after the terminal's):
    the second one came while the interrupted phase was being reported, and the run then ended as a bare
    KeyboardInterrupt, without the resume hint. A fresh interpreter: a real SIGINT must not reach pytest."""
    root = project.write()
    code = (
        "import os, signal\n"
        "from pathlib import Path\n"
        "from proxshift.config.paths import discover_paths\n"
        "from proxshift.config.project import load_project\n"
        "from proxshift.engine.events import PhaseFinished\n"
        "from proxshift.engine.phases.base import Options\n"
        "from proxshift.engine.provision import Interrupted, Provision\n"
        "from tests.unit.test_provision import stub\n"
        "def report(event):\n"
        "    if isinstance(event, PhaseFinished) and event.status == 'interrupted':\n"
        "        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C\n"
        f"project = load_project(discover_paths(Path({str(root)!r})))\n"
        "phases = [stub('slow', failure=KeyboardInterrupt())]\n"
        "try:\n"
        "    Provision(project, 'sno', Options(), report, phases).run()\n"
        "except Interrupted as exc:\n"
        "    print(exc.hint)\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)  # Python's own again\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, cwd=Path.cwd()
    )
    assert done.stdout == "resume with: proxshift provision sno\nTrue\n", done.stderr
