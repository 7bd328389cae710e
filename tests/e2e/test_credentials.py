"""`credentials --kubeconfig-out` (issue 11): YAML, 0600, atomic, never over a different file without --force."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from proxshift.lab.lab import Lab
from tests.conftest import CliRunner


def test_kubeconfig_out_never_overwrites_what_the_user_has(
    predecessor_root: Path, lab: Lab, cli: CliRunner, tmp_path: Path
) -> None:
    kube = tmp_path / ".kube"
    kube.mkdir()
    mine = kube / "config"
    mine.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: mine}]\n")
    mine.chmod(0o644)
    refused = cli("--root", predecessor_root, "credentials", "ocp-sno1", "--kubeconfig-out", mine)
    assert refused.code == 2, refused.err
    assert f"error: {mine} exists and holds something else (another cluster's kubeconfig?); it was left as it is" in (
        refused.err
    )
    assert "--force" in refused.err
    assert mine.read_text() == "apiVersion: v1\nkind: Config\nclusters: [{name: mine}]\n"

    fresh = kube / "ocp-sno1"
    written = cli("--root", predecessor_root, "credentials", "ocp-sno1", "--kubeconfig-out", fresh)
    assert written.code == 0, written.err
    text = fresh.read_text()
    assert not text.lstrip().startswith("{")  # YAML, not JSON
    config = yaml.safe_load(text)
    assert (
        config["kind"] == "Config" and config["clusters"][0]["cluster"]["server"] == lab.clusters["ocp-sno1"].kube.url
    )
    assert oct(fresh.stat().st_mode & 0o777) == "0o600"
    assert written.out.splitlines()[-1] == f"export KUBECONFIG={fresh}"
    assert [p.name for p in kube.iterdir() if p.name.startswith(".")] == []  # no temp file left

    again = cli("--root", predecessor_root, "credentials", "ocp-sno1", "--kubeconfig-out", fresh)
    assert again.code == 0 and "is already this one" in again.err
    forced = cli("--root", predecessor_root, "credentials", "ocp-sno1", "--kubeconfig-out", mine, "--force")
    assert forced.code == 0, forced.err
    assert yaml.safe_load(mine.read_text()) == config and oct(mine.stat().st_mode & 0o777) == "0o600"
    assert forced.out.splitlines()[-1] == f"export KUBECONFIG={mine}"
    assert os.access(mine, os.R_OK)
