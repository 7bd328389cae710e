"""The one list of phases: its order, choosing from it, and the docs' phase table that must match it."""

from __future__ import annotations

import re

import pytest

from proxshift.engine.phases.base import Options
from proxshift.engine.phases.flow import PHASES, after, names, select
from proxshift.errors import UserInputError
from tests.conftest import REPO


def _selected(options: Options) -> list[str]:
    return names(select(options))


def test_the_list_is_the_flow() -> None:
    assert names() == [
        "preflight",
        "secrets",
        "manifests",
        "iso",
        "upload",
        "vms",
        "start",
        "wait",
        "credentials",
        "acm",
        "restore",
        "labels",
        "gitops",
        "eso",
        "apps",
        "storage",
        "health",
    ]
    assert len(set(names())) == len(PHASES)
    assert [p.name for p in PHASES if p.always] == ["preflight", "secrets", "health"]
    assert names(after("credentials"))[0] == "acm"
    # what `proxshift post` runs
    assert names(after("acm")) == ["restore", "labels", "gitops", "eso", "apps", "storage", "health"]
    for phase in PHASES:
        assert phase.description and "\n" not in phase.description, phase.name


def test_phase_selection() -> None:
    assert _selected(Options()) == names(PHASES)
    assert _selected(Options(start_from="vms")) == ["vms", "start", "wait", "credentials", "acm", *names(after("acm"))]
    assert _selected(Options(only="iso")) == ["iso"]
    assert _selected(Options(skip=("acm", "wait"))) == [p for p in names() if p not in ("acm", "wait")]
    assert _selected(Options(start_from="iso", skip=("upload",))) == ["iso", *names()[5:]]
    with pytest.raises(UserInputError, match="unknown phase 'vm'") as raised:
        _selected(Options(skip=("vm",)))
    assert raised.value.hint == "phases: " + ", ".join(names())


def test_selection_works_on_any_list_of_phases() -> None:
    post = after("acm")
    assert names(select(Options(), post)) == ["restore", "labels", "gitops", "eso", "apps", "storage", "health"]
    assert names(select(Options(skip=("storage", "gitops")), post)) == ["restore", "labels", "eso", "apps", "health"]
    with pytest.raises(UserInputError, match="unknown phase 'vms'") as raised:
        select(Options(only="vms"), post)
    assert raised.value.hint == "phases: restore, labels, gitops, eso, apps, storage, health"


def _docs_table() -> list[tuple[str, ...]]:
    text = (REPO / "docs" / "provisioning.md").read_text()
    table = text.split("| phase | what it does | skipped on a re-run when |\n|---|---|---|\n", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append(tuple(re.sub(r"`([^`]*)`", r"\1", cell) for cell in cells))
    return rows


def test_the_docs_phase_table_is_the_list() -> None:
    expected = [
        (phase.name, phase.description, "never (read-only)" if phase.always else phase.unchanged) for phase in PHASES
    ]
    assert _docs_table() == expected, "docs/provisioning.md's phase table must list PHASES, in order, as they say"
