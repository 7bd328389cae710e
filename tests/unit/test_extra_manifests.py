"""Extra install manifests: found, checked before anything runs, copied into openshift/, counted in the digests."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from proxshift.config.extra_manifests import check_manifest
from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.engine.phases.base import Options, PhaseContext
from proxshift.engine.phases.build import Iso, Manifests
from proxshift.engine.state import State, digest
from tests.conftest import CliRunner, ProjectFiles

MACHINE_CONFIG = """\
apiVersion: machineconfiguration.openshift.io/v1
kind: MachineConfig
metadata:
  name: 99-worker-chrony
  labels:
    machineconfiguration.openshift.io/role: worker
spec: {}
"""


def _write(root: Path, name: str, text: str, cluster: str = "sno") -> Path:
    path = root / "manifests" / cluster / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _check(tmp_path: Path, text: str) -> list[tuple[str, str, int | None]]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return [(p.location, p.message, p.line) for p in check_manifest(path, "manifests/sno/m.yaml")]


def test_a_named_kubernetes_object_passes(tmp_path: Path) -> None:
    assert _check(tmp_path, MACHINE_CONFIG) == []
    assert _check(tmp_path, MACHINE_CONFIG + "---\n" + MACHINE_CONFIG.replace("99-worker", "99-master")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MACHINE_CONFIG + "---\napiVersion: v1\nmetadata: {name: x}\n", [("document 2", "has no kind", 9)]),
        ("kind: Namespace\napiVersion: v1\nmetadata: {}\n", [("", "has no metadata.name", 1)]),
        ("- a\n- b\n", [("", "is not a mapping (a Kubernetes object)", 1)]),
        ("", [("", "holds no document", None)]),
    ],
)
def test_what_is_not_a_named_object(tmp_path: Path, text: str, expected: list[tuple[str, str, int | None]]) -> None:
    assert _check(tmp_path, text) == expected


def test_broken_yaml_and_duplicate_keys_name_the_line(tmp_path: Path) -> None:
    [(location, message, line)] = _check(tmp_path, MACHINE_CONFIG + "spec: {a: [}\n")
    assert (location, line) == ("", 8) and message.startswith("is not valid YAML")
    [(location, message, line)] = _check(tmp_path, MACHINE_CONFIG.replace("spec: {}", "kind: Other"))
    assert (location, line) == ("kind", 7) and "written twice (lines 2 and 7)" in message


def test_validate_rejects_a_broken_manifest_naming_file_and_line(project: ProjectFiles, cli: CliRunner) -> None:
    root = project.write()
    _write(root, "10-good.yaml", MACHINE_CONFIG)
    _write(root, "20-broken.yml", MACHINE_CONFIG.replace("kind: MachineConfig\n", ""))
    _write(root, "notes.txt", "not a manifest: ignored\n")
    result = cli("--root", root, "validate")
    assert result.code == 2
    assert "error: manifests/sno/20-broken.yml:1: has no kind" in result.err
    assert "10-good" not in result.err and "notes.txt" not in result.err
    # Before anything runs: a provision is refused as bad input, with no install directory made.
    refused = cli("--root", root, "provision", "sno")
    assert refused.code == 2 and "20-broken.yml:1: has no kind" in refused.err
    assert not (root / "ocp_install").exists()


def test_extra_manifests_dir_names_another_directory(project: ProjectFiles, cli: CliRunner) -> None:
    project.cluster("sno")["vars"]["extra_manifests_dir"] = "shared/manifests"
    root = project.write()
    result = cli("--root", root, "validate", "sno")
    assert result.code == 2
    assert "clusters.sno.vars.extra_manifests_dir: names" in result.err and "which is not a directory" in result.err
    shared = root / "shared" / "manifests"
    shared.mkdir(parents=True)
    (shared / "a.yaml").write_text(MACHINE_CONFIG)
    assert cli("--root", root, "validate", "sno").code == 0
    listed = cli("--root", root, "manifests", "sno", "--no-vault")
    assert "# extra manifest shared/manifests/a.yaml -> openshift/" in listed.out


def test_copied_into_openshift_exactly(project: ProjectFiles, cli: CliRunner, tmp_path: Path) -> None:
    root = project.write()
    _write(root, "a.yaml", MACHINE_CONFIG)
    _write(root, "b.yml", MACHINE_CONFIG.replace("99-worker", "99-other"))
    out = tmp_path / "out"
    first = cli("--root", root, "manifests", "sno", "--no-vault", "--output-dir", out)
    assert first.code == 0, first.err
    assert "copied manifests/sno/a.yaml into openshift/" in first.err
    target = out / "openshift"
    assert sorted(p.name for p in target.iterdir()) == ["a.yaml", "b.yml"]
    assert (target / "a.yaml").read_text() == MACHINE_CONFIG
    assert stat.S_IMODE((target / "a.yaml").stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    (root / "manifests" / "sno" / "b.yml").unlink()
    assert cli("--root", root, "manifests", "sno", "--no-vault", "--output-dir", out).code == 0
    assert [p.name for p in target.iterdir()] == ["a.yaml"]
    [kept] = (out / "history").glob("*/openshift/b.yml")  # what is no longer wanted is moved, never deleted
    assert "99-other" in kept.read_text()


def _inputs(root: Path) -> tuple[str, str, PhaseContext]:
    ctx = PhaseContext(load_project(discover_paths(root)), "sno", Options(), lambda event: None)
    return Manifests().inputs(ctx), Iso().inputs(ctx), ctx


def test_they_count_in_the_manifests_and_iso_digests(project: ProjectFiles) -> None:
    root = project.write()
    manifests, iso, ctx = _inputs(root)
    assert manifests == digest(*ctx.base_inputs().values(), {})  # without extra manifests: as before they existed
    assert iso == digest([])
    state = State(root / "state.json")
    state.record("manifests", manifests, 1.0, Manifests().input_parts(ctx))
    path = _write(root, "a.yaml", MACHINE_CONFIG)
    with_one = _inputs(root)[:2]
    assert with_one[0] != manifests and with_one[1] != iso
    assert state.changed("manifests", Manifests().input_parts(_inputs(root)[2])) == ["the extra manifests"]
    path.write_text(MACHINE_CONFIG.replace("worker", "master"))
    assert _inputs(root)[:2] != with_one
