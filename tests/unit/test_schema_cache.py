"""manifests/schema_cache.py: a pass is skipped only for the same text, schema, code and environment; hashes only."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from proxshift.manifests import check, schema_cache
from proxshift.manifests.check import check_files
from tests.conftest import FIXTURES

VALID = FIXTURES / "schema-examples" / "valid"
INSTALL = (VALID / "sno-none.install-config.yaml").read_text()
AGENT = (VALID / "sno.agent-config.yaml").read_text()
PULL_SECRET = re.search(r"pullSecret: '(.*)'", INSTALL)


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "proxshift" / "schema-checks"


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The manifests the schema validator was asked about (the real validator still runs)."""
    seen: list[str] = []
    real = check.schema_findings

    def counting(manifest: str, *args: object, **kwargs: object) -> list[check.Problem]:
        seen.append(manifest)
        return real(manifest, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(check, "schema_findings", counting)
    return seen


def test_a_pass_is_recorded_and_skipped_on_the_same_text(cache: Path, validations: list[str]) -> None:
    assert check_files(INSTALL, AGENT) == []
    assert sorted(validations) == ["agent-config.yaml", "install-config.yaml"]
    assert check_files(INSTALL, AGENT) == []
    assert len(validations) == 2  # the second run validated nothing again
    assert len(list(cache.iterdir())) == 2


def test_a_changed_document_is_validated_again(cache: Path, validations: list[str]) -> None:
    check_files(INSTALL, AGENT)
    check_files(INSTALL.replace("baseDomain: lab.example.com", "baseDomain: lab.example.org"), AGENT)
    assert validations.count("install-config.yaml") == 2
    assert validations.count("agent-config.yaml") == 1


def test_a_changed_schema_is_validated_again(
    cache: Path, validations: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    check_files(INSTALL, AGENT)
    schemas = tmp_path / "schemas"
    shutil.copytree(check.SCHEMAS, schemas)
    agent_schema = schemas / check.SCHEMA_FILES["agent-config.yaml"]
    agent_schema.write_text(agent_schema.read_text() + "\n")
    monkeypatch.setattr(check, "SCHEMAS", schemas)
    check_files(INSTALL, AGENT)
    assert validations.count("agent-config.yaml") == 2
    assert validations.count("install-config.yaml") == 1


def test_a_changed_environment_is_validated_again(
    cache: Path, validations: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    packages = tmp_path / "site-packages"
    packages.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(packages)])
    check_files(INSTALL, AGENT)
    (packages / "rfc3987-1.3.8.dist-info").mkdir()  # a package installed: the directory's mtime moves
    os.utime(packages, ns=(1, os.stat(packages).st_mtime_ns + 1_000_000))
    check_files(INSTALL, AGENT)
    assert len(validations) == 4


def test_a_failing_manifest_is_never_recorded(cache: Path, validations: list[str]) -> None:
    broken = INSTALL.replace("hyperthreading: Enabled", "hyperthreading: Sometimes", 1)
    assert broken != INSTALL
    for _ in range(2):
        problems = check_files(broken, AGENT)
        assert any("schema:" in p.message for p in problems)
    assert validations.count("install-config.yaml") == 2
    assert len(list(cache.iterdir())) == 1  # the agent-config's pass only


def test_entries_are_private_empty_and_hold_no_secret(cache: Path) -> None:
    assert PULL_SECRET is not None
    check_files(INSTALL, AGENT)
    assert cache.stat().st_mode & 0o777 == 0o700
    for entry in cache.iterdir():
        assert entry.stat().st_mode & 0o777 == 0o600
        assert entry.stat().st_size == 0
        assert re.fullmatch(r"[0-9a-f]{64}", entry.name)
    for path in cache.parent.rglob("*"):
        assert PULL_SECRET[1] not in path.name
        assert not path.is_file() or PULL_SECRET[1] not in path.read_text()


def test_a_directory_others_may_enter_is_neither_read_nor_written(cache: Path, validations: list[str]) -> None:
    check_files(INSTALL, AGENT)
    cache.chmod(0o755)
    check_files(INSTALL, AGENT)
    assert len(validations) == 4
    for entry in cache.iterdir():
        entry.unlink()
    check_files(INSTALL, AGENT)
    assert list(cache.iterdir()) == []


def test_the_oldest_entries_go_beyond_the_limit(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_cache, "KEEP", 3)
    for number in range(5):
        schema_cache.record_pass(f"{number:064x}")
        os.utime(cache / f"{number:064x}", ns=(number, number))
    schema_cache.record_pass("f" * 64)
    assert sorted(p.name for p in cache.iterdir()) == [f"{3:064x}", f"{4:064x}", "f" * 64]


def test_an_unwritable_cache_only_costs_the_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # a file where the directory would go
    assert check_files(INSTALL, AGENT) == []
    broken = INSTALL.replace("hyperthreading: Enabled", "hyperthreading: Sometimes", 1)
    assert any("schema:" in p.message for p in check_files(broken, AGENT))
