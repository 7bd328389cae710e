"""The lab, started in the test process, with the predecessor's inventory and site config."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.lab.lab import Lab


@pytest.fixture
def lab(predecessor_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    project = load_project(discover_paths(predecessor_root))
    started = Lab(project, predecessor_root / ".lab", time_scale=0.0, install_seconds=1.5, operator_seconds=0.3).start()
    for key, value in started.env().items():
        monkeypatch.setenv(key, value)
    try:
        yield started
    finally:
        started.stop()


def until_gone(lab: Lab, cluster: str) -> None:
    """The lab notices destroyed VMs on its next look (every 0.2 s): a real cluster's API is gone at once."""
    deadline = time.monotonic() + 15
    while lab.clusters[cluster].kube.available and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not lab.clusters[cluster].kube.available, f"{cluster}'s API still answers after its VMs were destroyed"
