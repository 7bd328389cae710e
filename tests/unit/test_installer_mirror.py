"""A mirror's transient failures during `installer fetch`, in the shapes a loopback mirror does not produce."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import responses

from proxshift.clients.installer import fetch_installer
from proxshift.clients.transport import RETRY
from proxshift.errors import OperationError

MIRROR = "https://mirror.example/ocp"
SUMS = f"{MIRROR}/4.19.1/sha256sum.txt"
TARBALL = f"{MIRROR}/4.19.1/openshift-install-linux.tar.gz"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@responses.activate
def test_a_503_from_the_mirror_is_tried_again() -> None:
    responses.get(SUMS, status=503)
    responses.get(SUMS, body="0" * 64 + "  openshift-install-linux.tar.gz\n")
    responses.get(TARBALL, status=404)
    with pytest.raises(OperationError, match=re.escape(f"{TARBALL} answered HTTP 404")):
        fetch_installer("4.19.1", MIRROR)
    assert [call.request.url for call in responses.calls] == [SUMS, SUMS, TARBALL]


@responses.activate
def test_a_mirror_that_stays_unavailable_is_named_after_the_last_try() -> None:
    responses.get(SUMS, status=503)
    with pytest.raises(OperationError, match=re.escape(f"{SUMS} answered HTTP 503")):
        fetch_installer("4.19.1", MIRROR)
    assert len(responses.calls) == RETRY.attempts
