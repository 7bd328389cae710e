"""The install-dir contract: names, and archiving into history/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from proxshift.config.install_dir import InstallDir


def test_archive_keeps_history_and_lock(tmp_path: Path) -> None:
    (tmp_path / "history" / "old").mkdir(parents=True)
    (tmp_path / "auth").mkdir()
    (tmp_path / "agent.x86_64.iso").write_text("iso")
    (tmp_path / ".lock").write_text("")
    moved = InstallDir(tmp_path).archive(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert moved == tmp_path / "history" / "20260102T030405Z"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "history"]
    assert sorted(p.name for p in moved.iterdir()) == ["agent.x86_64.iso", "auth"]
    assert (tmp_path / "history" / "old").is_dir()


def test_archiving_an_empty_or_missing_dir_leaves_no_history_entry(tmp_path: Path) -> None:
    assert InstallDir(tmp_path / "missing").archive() is None
    (tmp_path / "history").mkdir()
    assert InstallDir(tmp_path).archive() is None
    assert list((tmp_path / "history").iterdir()) == []


def test_layout_names(tmp_path: Path) -> None:
    install = InstallDir(tmp_path / "ocp-sno1")
    assert install.cluster == "ocp-sno1"
    assert install.manifests == (install.install_config, install.agent_config)
    assert [p.name for p in install.rendered_manifests] == ["install-config.yaml", "agent-config.yaml"]
    assert install.kubeconfig.parent == install.auth
    assert install.iso in install.image_outputs
    assert install.shown(install.kubeconfig) == "auth/kubeconfig"


def test_add_nodes_runs_are_named_by_their_utc_start(tmp_path: Path) -> None:
    install = InstallDir(tmp_path / "ocp")
    run = install.add_nodes_run(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    assert run.path == tmp_path / "ocp" / "add-nodes" / "20260304T050607Z"
    assert [p.name for p in (run.nodes_config, run.iso, run.report, run.oc_log, run.result)] == [
        "nodes-config.yaml",
        "node.x86_64.iso",
        "report.json",
        "oc.log",
        "result.json",
    ]
    assert not run.path.exists()  # named, not created
