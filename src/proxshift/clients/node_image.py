"""`oc adm node-image create`: the ISO that adds hosts to a running agent-installed cluster (4.17+).

oc reads nodes-config.yaml in its --dir, runs the node-joiner in the cluster and copies
node.x86_64.iso back there. It needs the cluster's admin kubeconfig (KUBECONFIG) and the pull
secret (--registry-config): both are written to a private temporary directory (0700, files 0600)
that is removed when oc ends, whatever the ending.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxshift.config.install_dir import AddNodesDir
from proxshift.errors import OperationError, file_error
from proxshift.files import write_private
from proxshift.processes import without_credentials
from proxshift.secret import Secret

REGISTRY_CONFIG_SHOWN = "<temporary 0600 copy of the pull secret>"  # what a plan shows for --registry-config


def command(oc: Path, run: AddNodesDir, registry_config: str, report: bool) -> list[str]:
    """The argument list; `report` adds --report (oc 4.18+: report.json in --dir)."""
    return [
        str(oc),
        "adm",
        "node-image",
        "create",
        "--dir",
        str(run.path),
        "--registry-config",
        registry_config,
        *(["--report"] if report else []),
    ]


def report_reason(path: Path) -> str | None:
    """Why oc says it failed, from its report.json (`result`'s error message and code); None without one."""
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        return None
    message = next((result[k] for k in ("errorMessage", "error_message", "message") if result.get(k)), None)
    code = next((result[k] for k in ("errorCode", "error_code") if result.get(k)), None)
    if not message:
        return None
    return f"{message} ({code})" if code else str(message)


def create_node_image(
    oc: Path,
    run: AddNodesDir,
    kubeconfig: Secret,
    pull_secret: Secret,
    *,
    report: bool,
    on_line: Callable[[str], None] | None = None,
) -> Path:
    """Run oc with the two secrets in private temporary files; the ISO it wrote, or an OperationError
    with the reason from report.json (else oc's last lines)."""
    if not run.nodes_config.is_file():
        raise OperationError(f"{run.nodes_config} is missing", "it is written right before oc runs: run again")
    try:
        temporary = Path(tempfile.mkdtemp(prefix="proxshift-oc-"))  # 0700, only this user
    except OSError as exc:
        raise _unwritable(tempfile.gettempdir(), exc, "or point TMPDIR at another directory, ") from None
    try:
        kubeconfig_file, auth_file = temporary / "kubeconfig", temporary / "pull-secret.json"
        try:
            write_private(kubeconfig_file, kubeconfig.reveal())
            write_private(auth_file, pull_secret.reveal())
        except OSError as exc:
            raise _unwritable(str(temporary), exc, "or point TMPDIR at another directory, ") from None
        # oc needs none of proxshift's own credentials (Vault token, Proxmox token): it does not get them.
        env = without_credentials()
        env["KUBECONFIG"] = str(kubeconfig_file)
        code, tail = _stream(command(oc, run, str(auth_file), report), env, run, on_line)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    try:
        for path in [run.path, *run.path.iterdir()]:
            if not path.is_symlink():
                path.chmod(0o700 if path.is_dir() else 0o600)
    except OSError as exc:
        raise _unwritable(str(run.path), exc) from None
    if code != 0:
        reason = report_reason(run.report) or "\n  ".join(tail) or "no output"
        raise OperationError(f"oc adm node-image create failed (exit {code}): {reason}", f"see {run.oc_log}")
    if not run.iso.is_file():
        made = sorted(p.name for p in run.path.glob("*.iso"))
        raise OperationError(
            f"oc adm node-image create finished but {run.iso.name} did not appear"
            + (f" (there: {', '.join(made)})" if made else ""),
            f"see {run.oc_log}",
        )
    return run.iso


def _unwritable(where: str, exc: OSError, other: str = "") -> OperationError:
    """A file oc's run needs that could not be written (the disk full, a read-only directory): named, not a crash."""
    from proxshift.files import MAKE_WRITABLE

    return file_error(exc, f"write in {where}", f"{MAKE_WRITABLE}, {other}then run again")


def _stream(
    argv: list[str], env: dict[str, str], run: AddNodesDir, on_line: Callable[[str], None] | None
) -> tuple[int, list[str]]:
    """Run, each output line to oc.log and `on_line`; (exit code, the last lines). Interrupted: oc is ended;
    oc.log that cannot be written (the disk full) ends it too, named."""
    try:
        return _stream_to_log(argv, env, run, on_line)
    except OSError as exc:
        raise _unwritable(str(run.oc_log), exc) from None


def _stream_to_log(
    argv: list[str], env: dict[str, str], run: AddNodesDir, on_line: Callable[[str], None] | None
) -> tuple[int, list[str]]:
    tail: list[str] = []
    with run.oc_log.open("a") as log:
        run.oc_log.chmod(0o600)
        try:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        except OSError as exc:
            raise OperationError(f"cannot run {argv[0]}: {exc.strerror}", "check the oc binary") from None
        try:
            assert process.stdout is not None  # noqa: S101 - Popen with stdout=PIPE always has it
            for raw in process.stdout:
                line = raw.rstrip()
                log.write(raw)
                tail = [*tail[-9:], line]
                if on_line:
                    on_line(line)
            return process.wait(), tail
        except BaseException:
            process.kill()
            process.wait()
            raise
