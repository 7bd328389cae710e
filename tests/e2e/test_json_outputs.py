"""The --json outputs that need the stand-ins, against docs/json.md's schemas, in the lab."""

from __future__ import annotations

import json
from pathlib import Path

from proxshift.lab.lab import Lab
from tests.cli.test_json_outputs import check
from tests.conftest import CliRunner


def test_reports_in_the_lab(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    root = ("--root", predecessor_root)
    plan = cli(*root, "provision", "ocp-sno1", "ocp", "--dry-run", "--json")
    assert plan.code == 0, plan.err
    assert set(check("provision <cluster>... --dry-run --json", plan.out)) == {"ocp-sno1", "ocp"}
    run = cli(*root, "provision", "ocp-sno1", "--json", "--poll-interval", "0.1")
    assert run.code == 0, run.err
    for line in run.out.splitlines():
        check("provision <cluster>... --json", line)

    status = check("status <cluster>... --json", cli(*root, "status", "ocp-sno1", "--json").out)
    assert status["vms"][0]["status"] == "running" and status["vms"][0]["ours"] is True
    several = check("status <cluster>... --json", cli(*root, "status", "ocp-sno1", "ocp", "--json").out)
    assert [one["cluster"] for one in several] == ["ocp-sno1", "ocp"]
    vault = check("vault check [<cluster>] --json", cli(*root, "vault", "check", "ocp-sno1", "--json").out)
    assert vault["ok"] and vault["items"][-1]["item"] == "credentials"

    hidden = check("credentials <cluster> --json", cli(*root, "credentials", "ocp-sno1", "--json").out)
    assert hidden["password"] is None and hidden["api"] == lab.clusters["ocp-sno1"].kube.url
    out = predecessor_root / "kubeconfig"
    shown = cli(*root, "credentials", "ocp-sno1", "--json", "--show-password", "--kubeconfig-out", out)
    revealed = check("credentials <cluster> --json", shown.out)
    password = (predecessor_root / "ocp_install" / "ocp-sno1" / "auth" / "kubeadmin-password").read_text().strip()
    assert revealed["password"] == password and revealed["kubeconfig"] == str(out)

    doctor = cli(*root, "doctor", "ocp", "--json")
    report = check("doctor [<cluster>] --json", doctor.out)
    assert doctor.code == (0 if report["ok"] else 1)
    rows = [c for c in report["checks"] if c["name"] == "storage space"]
    assert len(rows) > 1 and all(";" not in row["detail"] for row in rows)  # one row per problem
    iso = next(c for c in report["checks"] if c["name"] == "ISO on its storage")
    assert iso["status"] == "ok" and "provision's upload phase" in iso["detail"]  # no warning before it runs

    up = check("lab status --json", cli(*root, "lab", "status", "--json").out)
    assert up["up"] is True and all(service["healthy"] for service in up["services"])
    assert json.loads(cli(*root, "clusters", "--json").out)[0]["name"] == "ocp"
