"""Finishing clusters in the lab: labels, storage, health and hooks at the end of `provision`, `post`, `health`
after a stop, and the audit trail of it all, with no secret in it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import hvac

from proxshift.lab.cluster_sim import DEFAULT_CLASS
from proxshift.lab.lab import Lab
from tests.cli.test_json_outputs import check
from tests.conftest import CliRunner

FAST = ("--poll-interval", "0.1")

SMOKE = """\
import json, os, ssl, sys, urllib.request, base64
config = json.load(open(os.environ["KUBECONFIG"]))
cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
request = urllib.request.Request(os.environ["PROXSHIFT_API_URL"] + "/api/v1/nodes",
                                 headers={"Authorization": "Bearer " + user["token"]})
nodes = json.load(urllib.request.urlopen(request, context=context))["items"]
print(f"smoke: {len(nodes)} nodes")
out = os.path.join(os.environ["PROXSHIFT_INSTALL_DIR"], "..", "smoke-" + os.environ["PROXSHIFT_CLUSTER"] + ".json")
json.dump({"argv": sys.argv[1:], "env": sorted(os.environ)}, open(out, "w"))
"""


def _finishing(root: Path, lab: Lab) -> None:
    """The lab's site config with post_install and hooks, as a user would add them."""
    hooks = root / "hooks"
    hooks.mkdir()
    (hooks / "smoke.py").write_text(SMOKE)
    config = lab.directory / "site-config.yaml"
    config.write_text(
        config.read_text()
        + "post_install:\n"
        + "  node_labels: {topology.kubernetes.io/region: homelab}\n"
        + "  default_storage_class: nfs-sc\n"
        + "hooks:\n"
        + f"  after: {{health: [['{sys.executable}', 'hooks/smoke.py', '{{{{ cluster_name }}}}']]}}\n"
    )


def _audit(root: Path, cluster: str) -> tuple[list[dict[str, Any]], str]:
    text = (root / "ocp_install" / cluster / "audit.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()], text


def test_provision_ends_with_labels_storage_and_a_green_health(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    _finishing(predecessor_root, lab)
    assert cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST).code == 0
    result = cli("--root", predecessor_root, "provision", "ocp", *FAST)
    assert result.code == 0, result.err
    for phase in ("acm", "labels", "storage", "health"):
        assert re.search(rf"✓ {phase}\s+done", result.err), phase
    assert "    ok      ClusterOperators: 8 Available, none Degraded" in result.err
    assert "    ok      ACM ManagedCluster: joined and available on hub ocp-sno1" in result.err
    assert "    health: smoke: 6 nodes\n" in result.err  # the hook's output, as it ran, with a working KUBECONFIG
    store = lab.clusters["ocp"].kube.store
    nodes = [store.find("v1", "Node", f"ocp-node{i}") for i in range(1, 7)]
    assert all(n is not None and n["metadata"]["labels"]["topology.kubernetes.io/region"] == "homelab" for n in nodes)
    classes = {sc: store.find("storage.k8s.io/v1", "StorageClass", sc) for sc in ("nfs-sc", "lvms-vg1")}
    assert {k: (v or {})["metadata"]["annotations"][DEFAULT_CLASS] for k, v in classes.items()} == {
        "nfs-sc": "true",
        "lvms-vg1": "false",
    }
    smoke = json.loads((predecessor_root / "ocp_install" / "smoke-ocp.json").read_text())
    assert smoke["argv"] == ["ocp"] and not [k for k in smoke["env"] if k.startswith("VAULT_")]

    # Run again with `post`: nothing to change, health green again.
    again = cli("--root", predecessor_root, "post", "ocp", *FAST)
    assert again.code == 0, again.err
    assert re.search(r"↷ labels\s+skipped: done, inputs unchanged", again.err)
    assert "ocp finished in" in again.err


def test_health_after_stopping_the_hub_names_the_stopped_vm(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    assert cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST).code == 0
    healthy = cli("--root", predecessor_root, "health", "ocp-sno1")
    assert healthy.code == 0, healthy.out + healthy.err
    assert cli("--root", predecessor_root, "stop", "ocp-sno1").code == 0
    result = cli("--root", predecessor_root, "health", "ocp-sno1", "--json")
    assert result.code == 1, result.err
    assert result.out.startswith("{"), result.err
    report = check("health <cluster> --json", result.out)  # the schema docs/json.md gives it
    assert report["healthy"] is False
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["VM master-sno1"]["status"] == "failed"
    assert checks["VM master-sno1"]["detail"] == "VM 301 on pve2 is stopped"
    assert checks["VM master-sno1"]["hint"] == "proxshift start ocp-sno1"


def test_the_audit_trail_of_a_full_provision_holds_no_secret(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    _finishing(predecessor_root, lab)
    assert cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST).code == 0
    assert cli("--root", predecessor_root, "provision", "ocp", *FAST).code == 0
    lines, text = _audit(predecessor_root, "ocp")
    events = [line["event"] for line in lines]
    assert all(line["command"].endswith("provision ocp --poll-interval 0.1") for line in lines)

    reads = {line["path"]: line for line in lines if line["event"] == "vault.read"}
    assert reads["secrets/data/openshift/pullsecret"]["keys"] == ["secret"]
    assert "secrets/data/openshift/ocp-sno1" in reads  # the hub's kubeconfig, for the import
    [written] = [line for line in lines if line["event"] == "vault.write"]
    assert (written["path"], written["keys"]) == ("secrets/data/openshift/ocp", ["api", "kubeadmin", "kubeconfig"])

    tasks = [(line["action"], line["vmid"]) for line in lines if line["event"] == "proxmox.task"]
    assert sorted(t for t in tasks if t[0] in ("qmcreate", "qmstart")) == sorted(
        [("qmcreate", v) for v in range(401, 407)] + [("qmstart", v) for v in range(401, 407)]
    )
    hub = {(line["kind"], line["name"]) for line in lines if line["event"] == "kube.apply"}
    assert ("ManagedCluster", "ocp") in hub and ("Secret", "auto-import-secret") in hub
    assert {line["api"] for line in lines if line["event"] == "kube.apply"} == {"hub ocp-sno1"}
    patched = [(line["api"], line["kind"]) for line in lines if line["event"] == "kube.patch"]
    assert patched.count(("ocp", "Node")) == 6 and patched.count(("ocp", "StorageClass")) == 2
    [hook] = [line for line in lines if line["event"] == "hook"]
    assert (hook["phase"], hook["when"], hook["exit_code"]) == ("health", "after", 0)
    assert events.index("vault.read") < events.index("proxmox.task") < events.index("kube.patch")

    # Not one value: no secret read or written, no token, no password, no kubeconfig.
    assert lab.bao is not None
    kv = hvac.Client(url=lab.bao.addr, token=lab.bao.root_token).secrets.kv.v2

    def read(path: str) -> dict[str, str]:
        return kv.read_secret_version(path=path, mount_point="secrets", raise_on_deleted_version=True)["data"]["data"]  # type: ignore[no-any-return]

    stored, pull = read("openshift/ocp"), read("openshift/pullsecret")
    secrets = [stored["kubeadmin"], lab.clusters["ocp"].kube.token, lab.clusters["ocp-sno1"].kube.token]
    secrets += [lab.bao.root_token, lab.token_secret, json.loads(pull["secret"])["auths"]["quay.io"]["auth"]]
    for value in secrets:
        assert value not in text
    assert "BEGIN" not in text and "certificate-authority-data" not in text
