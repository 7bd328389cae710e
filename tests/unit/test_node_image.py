"""clients/node_image.py: oc runs with the kubeconfig and pull secret in private temporary files, which are
gone afterwards whatever the ending; a failure says why, from report.json when oc wrote one."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from proxshift.clients.node_image import command, create_node_image
from proxshift.config.install_dir import AddNodesDir
from proxshift.errors import OperationError
from proxshift.secret import Secret

# A stand-in oc: records what it was given (paths, modes, contents), then behaves as BEHAVIOUR says.
SCRIPT = """#!{python}
import json, os, stat, sys
args = sys.argv[1:]
directory = args[args.index("--dir") + 1]
auth = args[args.index("--registry-config") + 1]
kubeconfig = os.environ["KUBECONFIG"]
seen = {{
    "args": args,
    "credentials": sorted(k for k in os.environ if k.startswith(("VAULT_", "PROXSHIFT_"))),
    "files": {{p: [oct(stat.S_IMODE(os.stat(p).st_mode)), open(p).read()] for p in (kubeconfig, auth)}},
    "temporary": oct(stat.S_IMODE(os.stat(os.path.dirname(auth)).st_mode)),
}}
open({record!r}, "w").write(json.dumps(seen))
print("2026-05-01T12:00:00Z [node-image create] Launching command", flush=True)
{behaviour}
"""
SUCCEED = "open(os.path.join(directory, 'node.x86_64.iso'), 'w').write('iso')"
FAIL_WITH_REPORT = """
report = {"result": {"exitCode": 1, "errorCode": "OAS-1003", "errorMessage": "cannot pull the node-joiner image"}}
if "--report" in args:
    open(os.path.join(directory, "report.json"), "w").write(json.dumps(report))
print("error: image generation error: exit code 1", file=sys.stderr)
sys.exit(1)
"""
FAIL_PLAIN = "print('error: the server has asked for the client to provide credentials', file=sys.stderr); sys.exit(1)"
HANG = "import time; print('waiting', flush=True); time.sleep(60)"


def _oc(tmp_path: Path, behaviour: str) -> tuple[Path, Path]:
    record = tmp_path / "seen.json"
    oc = tmp_path / "oc"
    oc.write_text(SCRIPT.format(python=sys.executable, record=str(record), behaviour=behaviour))
    oc.chmod(oc.stat().st_mode | stat.S_IXUSR)
    return oc, record


def _run_dir(tmp_path: Path) -> AddNodesDir:
    run = AddNodesDir(tmp_path / "add-nodes" / "20260501T120000Z")
    run.path.mkdir(parents=True)
    run.nodes_config.write_text("hosts: []\n")
    return run


KUBECONFIG = Secret("apiVersion: v1\nkind: Config\n", "kubeconfig")
PULL = Secret('{"auths":{"quay.io":{"auth":"eDp5"}}}', "pull secret")


def _gone(record: Path) -> None:
    seen = json.loads(record.read_text())
    for path in seen["files"]:
        assert not Path(path).exists(), path
        assert not Path(path).parent.exists()


def test_success_private_temporary_files_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "s.secret")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_TOKEN_SECRET", "secret")
    oc, record = _oc(tmp_path, SUCCEED)
    run = _run_dir(tmp_path)
    lines: list[str] = []
    iso = create_node_image(oc, run, KUBECONFIG, PULL, report=True, on_line=lines.append)
    assert iso == run.iso and iso.read_text() == "iso"
    seen = json.loads(record.read_text())
    assert seen["args"][:6] == ["adm", "node-image", "create", "--dir", str(run.path), "--registry-config"]
    assert seen["args"][7:] == ["--report"]
    assert sorted(seen["files"].values()) == sorted([["0o600", KUBECONFIG.reveal()], ["0o600", PULL.reveal()]])
    assert seen["temporary"] == "0o700"
    assert seen["credentials"] == []  # oc gets neither the Vault token nor the Proxmox credentials
    _gone(record)
    assert lines == ["2026-05-01T12:00:00Z [node-image create] Launching command"]
    assert "Launching command" in run.oc_log.read_text()
    assert stat.S_IMODE(run.iso.stat().st_mode) == 0o600


def test_failure_says_why_from_report_json_and_removes_the_files(tmp_path: Path) -> None:
    oc, record = _oc(tmp_path, FAIL_WITH_REPORT)
    run = _run_dir(tmp_path)
    with pytest.raises(OperationError) as raised:
        create_node_image(oc, run, KUBECONFIG, PULL, report=True)
    assert raised.value.message == (
        "oc adm node-image create failed (exit 1): cannot pull the node-joiner image (OAS-1003)"
    )
    assert raised.value.hint == f"see {run.oc_log}"
    _gone(record)


def test_failure_without_a_report_shows_ocs_last_lines(tmp_path: Path) -> None:
    oc, record = _oc(tmp_path, FAIL_PLAIN)
    with pytest.raises(OperationError, match="provide credentials"):
        create_node_image(oc, _run_dir(tmp_path), KUBECONFIG, PULL, report=False)
    assert "--report" not in json.loads(record.read_text())["args"]
    _gone(record)


def test_interrupted_oc_is_ended_and_the_files_removed(tmp_path: Path) -> None:
    oc, record = _oc(tmp_path, HANG)

    def interrupt(line: str) -> None:
        if line == "waiting":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        create_node_image(oc, _run_dir(tmp_path), KUBECONFIG, PULL, report=True, on_line=interrupt)
    _gone(record)


def test_a_missing_iso_is_a_failure(tmp_path: Path) -> None:
    oc, _ = _oc(tmp_path, "pass")
    with pytest.raises(OperationError, match=r"node\.x86_64\.iso did not appear"):
        create_node_image(oc, _run_dir(tmp_path), KUBECONFIG, PULL, report=True)


def test_the_command_line_a_plan_shows() -> None:
    run = AddNodesDir(Path("/r/add-nodes/x"))
    assert command(Path("/bin/oc"), run, "<pull>", report=False) == [
        "/bin/oc",
        "adm",
        "node-image",
        "create",
        "--dir",
        "/r/add-nodes/x",
        "--registry-config",
        "<pull>",
    ]


def test_files_that_cannot_be_written_are_errors_naming_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """s08: oc.log or the temporary directory unwritable (the disk full, read-only, a directory in the way) was
    'unexpected OSError inside proxshift'."""
    import tempfile

    oc, _ = _oc(tmp_path, SUCCEED)
    run = _run_dir(tmp_path)
    run.oc_log.mkdir()  # open(..., "a") fails on it, as on a full disk or a read-only directory
    with pytest.raises(OperationError) as failed:
        create_node_image(oc, run, KUBECONFIG, PULL, report=True)
    assert failed.value.message.startswith(f"cannot write in {run.oc_log}: ")
    assert "make room on the disk or make the directory writable" in (failed.value.hint or "")
    run.oc_log.rmdir()
    not_a_dir = tmp_path / "tmp-is-a-file"
    not_a_dir.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_dir))
    with pytest.raises(OperationError) as failed:
        create_node_image(oc, run, KUBECONFIG, PULL, report=True)
    assert failed.value.message.startswith(f"cannot write in {not_a_dir}: ")
    assert "TMPDIR" in (failed.value.hint or "")
