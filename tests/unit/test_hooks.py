"""Hooks around phases: no shell, their environment (never a Vault token), output, timeout, failure, dry run."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.engine.events import Event, Log, Output, PhaseFinished
from proxshift.engine.phases.base import Options, Phase, PhaseContext
from proxshift.engine.provision import Provision
from proxshift.engine.state import State
from proxshift.errors import ExitCode, OperationError
from tests.conftest import ProjectFiles

KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nclusters:\n- name: sno\n  cluster: {server: 'https://api.sno.lab.example:6443'}\n"
)

# Prints its arguments one per line, then records what it was given as JSON (env, argv, the KUBECONFIG file).
REPORT = """#!/bin/sh
for arg in "$@"; do echo "arg: $arg"; done
python3 - "$@" <<'EOF'
import json, os, stat, sys
env = os.environ
out = env["PROXSHIFT_INSTALL_DIR"] + "/hook-" + env["PROXSHIFT_HOOK"] + "-" + env["PROXSHIFT_PHASE"]
config = os.environ.get("KUBECONFIG")
seen = {"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}
if config:
    seen["kubeconfig"] = {"path": config, "mode": stat.S_IMODE(os.stat(config).st_mode), "text": open(config).read()}
with open(out + ".json", "w") as f:
    json.dump(seen, f)
EOF
"""


class _Wait(Phase):
    """As the real wait: the install is complete, and its API URL known."""

    name = "wait"
    description = "stand-in"

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        return {}

    def run(self, ctx: PhaseContext) -> None:
        ctx.results.api_url = "https://api.sno.lab.example:6443"


class _Vms(_Wait):
    name = "vms"

    def run(self, ctx: PhaseContext) -> None:
        self.log(ctx, "vms ran")


class _Acm(_Vms):
    name = "acm"


def _script(root: Path, name: str, text: str) -> str:
    path = root / "hooks" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return f"./hooks/{name}"


def _run(project: ProjectFiles, phases: list[Phase]) -> tuple[list[Event], Path]:
    loaded = load_project(discover_paths(project.write()))
    events: list[Event] = []
    install_dir = loaded.paths.install_dir("sno").path
    install_dir.mkdir(parents=True, exist_ok=True)
    (install_dir / "auth").mkdir(exist_ok=True)
    (install_dir / "auth" / "kubeconfig").write_text(KUBECONFIG)
    Provision(loaded, "sno", Options(), events.append, phases).run()
    return events, install_dir


def _seen(install_dir: Path, when: str, phase: str) -> dict[str, Any]:
    return json.loads((install_dir / f"hook-{when}-{phase}.json").read_text())  # type: ignore[no-any-return]


def test_hooks_run_without_a_shell_with_their_environment(
    project: ProjectFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _script(project.root, "report.sh", REPORT)
    project.site["hooks"] = {
        "before": {"vms": [[report, "{{ cluster_name }}", "$HOME; rm -rf /", "{{ phase }}"]]},
        "after": {"acm": [[report, "{{ base_domain }}"]]},
    }
    for name, value in {
        "VAULT_TOKEN": "hvs.never-in-a-hook",
        "VAULT_ADDR": "https://vault.example:8200",
        "PROXSHIFT_PROXMOX_TOKEN_SECRET": "pve-secret",
        "KUBECONFIG": "/somewhere/else",
        "HOOK_TEST_INHERITED": "yes",
    }.items():
        monkeypatch.setenv(name, value)
    events, install_dir = _run(project, [_Vms(), _Wait(), _Acm()])

    before = _seen(install_dir, "before", "vms")
    assert before["argv"] == ["sno", "$HOME; rm -rf /", "vms"]  # as written: no shell expanded anything
    env = before["env"]
    assert {k: env[k] for k in env if k.startswith("PROXSHIFT_")} == {
        "PROXSHIFT_CLUSTER": "sno",
        "PROXSHIFT_PHASE": "vms",
        "PROXSHIFT_HOOK": "before",
        "PROXSHIFT_ROOT": str(project.root),
        "PROXSHIFT_INSTALL_DIR": str(install_dir),
    }
    assert not [k for k in env if k.startswith("VAULT_")] and "KUBECONFIG" not in env  # before the cluster is up
    assert env["HOOK_TEST_INHERITED"] == "yes" and before["cwd"] == str(project.root)

    after = _seen(install_dir, "after", "acm")
    assert after["argv"] == ["lab.example"]
    assert after["env"]["PROXSHIFT_API_URL"] == "https://api.sno.lab.example:6443"
    assert after["kubeconfig"]["text"] == KUBECONFIG and after["kubeconfig"]["mode"] == 0o600
    assert not Path(after["kubeconfig"]["path"]).exists()  # removed afterwards
    assert "hvs.never-in-a-hook" not in json.dumps([before, after]) and "pve-secret" not in json.dumps(after)

    outputs = [e.line for e in events if isinstance(e, Output) and e.phase == "vms"]
    assert outputs == ["arg: sno", "arg: $HOME; rm -rf /", "arg: vms"]
    logs = [e.message for e in events if isinstance(e, Log) and e.phase == "acm"]
    assert logs[:2] == ["vms ran", f"hook after acm: {report} lab.example"]  # the run, then its after-hook
    assert logs[-1].startswith("hook after acm: exit 0 (")
    assert [e.message for e in events if isinstance(e, Log) and e.phase == "vms"][2] == "vms ran"  # after its hook
    audit = [json.loads(line) for line in (install_dir / "audit.jsonl").read_text().splitlines()]
    assert [(a["event"], a["when"], a["phase"], a["exit_code"]) for a in audit] == [
        ("hook", "before", "vms", 0),
        ("hook", "after", "acm", 0),
    ]
    assert audit[0]["argv"] == [report, "sno", "$HOME; rm -rf /", "vms"]


def test_a_failing_hook_fails_its_phase_with_its_last_lines(project: ProjectFiles) -> None:
    failing = _script(project.root, "fail.sh", "#!/bin/sh\nfor i in $(seq 1 15); do echo line $i; done\nexit 3\n")
    project.site["hooks"] = {"after": {"vms": [[failing]]}}
    with pytest.raises(OperationError) as raised:
        _run(project, [_Vms(), _Acm()])
    message = raised.value.message
    assert message.startswith(f"hook after vms failed (exit 3): {failing}\n  line 6\n")
    assert message.endswith("line 15") and "line 5\n" not in message
    assert raised.value.exit_code == ExitCode.FAILED
    state = State(project.root / "ocp_install" / "sno" / "state.json")
    assert not state.ever_done("vms")  # a failed after-hook leaves the phase to run again


def test_a_hook_past_its_timeout_is_ended_with_its_children(project: ProjectFiles) -> None:
    slow = _script(project.root, "slow.sh", '#!/bin/sh\necho started\nsleep 60 &\necho $! > "$1"\nwait\n')
    child = project.root / "child.pid"
    project.site["hooks"] = {"before": {"vms": [[slow, str(child)]]}}
    project.site["hook_timeout"] = "1s"
    began = time.monotonic()
    with pytest.raises(OperationError, match=r"hook before vms did not finish within 1 s: .*\n  started"):
        _run(project, [_Vms()])
    assert time.monotonic() - began < 10
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the hook's child outlived the timeout")


def test_a_hook_that_cannot_start_says_so(project: ProjectFiles) -> None:
    not_executable = project.root / "hooks" / "plain.sh"
    not_executable.parent.mkdir()
    not_executable.write_text("#!/bin/sh\n")
    project.site["hooks"] = {"before": {"vms": [["./hooks/plain.sh"]]}}
    with pytest.raises(OperationError, match=r"hook before vms cannot run \./hooks/plain\.sh: Permission denied"):
        _run(project, [_Vms()])
    assert stat.S_IMODE(not_executable.stat().st_mode) & 0o111 == 0


def test_the_dry_run_lists_the_hooks(project: ProjectFiles) -> None:
    project.site["hooks"] = {"before": {"vms": [["./a.sh", "{{ cluster_name }}"]]}, "after": {"vms": [["./b.sh"]]}}
    loaded = load_project(discover_paths(project.write()))
    [plan] = Provision(loaded, "sno", Options(), lambda event: None, [_Vms()]).plan()
    assert plan.details == {"hooks before": ["./a.sh sno"], "hooks after": ["./b.sh"]}
    assert not (project.root / "ocp_install").exists()


def test_a_phase_skipped_runs_no_hook(project: ProjectFiles) -> None:
    marker = project.root / "ran"
    touch = _script(project.root, "touch.sh", f"#!/bin/sh\ntouch {marker}\n")
    project.site["hooks"] = {"before": {"vms": [[touch]]}}
    events, _ = _run(project, [_Vms()])
    assert marker.exists()
    marker.unlink()
    events, _ = _run(project, [_Vms()])  # done, inputs unchanged
    assert not marker.exists()
    assert [e for e in events if isinstance(e, PhaseFinished)] == []
