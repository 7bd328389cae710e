"""A live cluster (issue 11): a re-run resumes what is left, only a rebuild is refused, --force asks first."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import hvac
import pytest

from proxshift.lab.lab import Lab
from tests.conftest import CliRunner

FAST = ("--poll-interval", "0.1")
MC = ("cluster.open-cluster-management.io/v1", "ManagedCluster")


class Terminal(io.StringIO):
    """stdin as a terminal where the user types `answer`."""

    def isatty(self) -> bool:
        return True


def _vault(lab: Lab) -> hvac.Client:
    assert lab.bao is not None
    return hvac.Client(url=lab.bao.addr, token=lab.bao.root_token)


def _stored(lab: Lab, cluster: str) -> dict[str, str] | None:
    try:
        response = _vault(lab).secrets.kv.v2.read_secret_version(
            path=f"openshift/{cluster}", mount_point="secrets", raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return None
    return dict(response["data"]["data"])


def _writes(lab: Lab) -> int:
    return len([r for r in lab.pve.requests if r[0] != "GET"])


def _add_var(root: Path, cluster: str, line: str) -> None:
    inventory = root / "inventory" / "clusters.yml"
    text = inventory.read_text()
    start = text.index(f"        {cluster}:\n          vars:\n") + len(f"        {cluster}:\n          vars:\n")
    inventory.write_text(text[:start] + f"            {line}\n" + text[start:])


def test_a_re_run_on_a_live_cluster_changes_nothing_and_force_asks_first(
    predecessor_root: Path, lab: Lab, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST).code == 0
    generation = lab.pve.vm(301).config["vmgenid"]
    stored = _stored(lab, "ocp-sno1")
    again = cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST)
    assert again.code == 0, again.err
    for phase in ("manifests", "iso", "upload", "vms", "start", "wait", "credentials"):
        assert re.search(rf"↷ {phase}\s+skipped: done, inputs unchanged", again.err), phase
    assert "✓ ocp-sno1 provisioned in" in again.err

    # --force with no terminal and no --yes: the list of what goes, then exit 2 with nothing changed.
    writes = _writes(lab)
    refused = cli("--root", predecessor_root, "provision", "ocp-sno1", "--force", *FAST)
    assert refused.code == 2, refused.err
    api = lab.clusters["ocp-sno1"].kube.url
    assert f"--force: ocp-sno1 is a live cluster (its API at {api} answers); this tears it down" in refused.err
    assert "  destroy    VM master-sno1 (vmid 301 on pve2, running)\n" in refused.err
    assert "  remove ISO your_nfs:iso/ocp-sno1-agent.x86_64.iso on pve2 (uploaded by proxshift)\n" in refused.err
    assert "  archive    ocp_install/ocp-sno1 -> ocp_install/ocp-sno1/history/<UTC time>/\n" in refused.err
    assert "  keep       the credentials in Vault at secrets/data/openshift/ocp-sno1\n" in refused.err
    assert "error: provision ocp-sno1 --force destroys what is listed above and needs confirmation" in refused.err
    assert "run it on a terminal to be asked, or pass --yes" in refused.err
    assert lab.pve.vm(301).status == "running" and lab.pve.vm(301).config["vmgenid"] == generation
    assert _stored(lab, "ocp-sno1") == stored and _writes(lab) == writes
    assert not (predecessor_root / "ocp_install" / "ocp-sno1" / "history").exists()

    # On a terminal, "n": aborted, nothing changed, exit 1 (not a silent 130).
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    declined = cli("--root", predecessor_root, "provision", "ocp-sno1", "--force", *FAST)
    assert declined.code == 1, declined.err
    assert "  destroy    VM master-sno1 (vmid 301 on pve2, running)\n" in declined.err
    assert declined.err.endswith("aborted, nothing changed\n")
    assert lab.pve.vm(301).config["vmgenid"] == generation and _writes(lab) == writes

    # "y" on a terminal, or --yes: torn down and built again.
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    forced = cli("--root", predecessor_root, "provision", "ocp-sno1", "--force", *FAST)
    assert forced.code == 0, forced.err
    assert lab.pve.vm(301).config["vmgenid"] != generation
    assert list((predecessor_root / "ocp_install" / "ocp-sno1" / "history").iterdir())


def test_a_rebuild_of_a_live_cluster_is_refused_naming_what_changed(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    assert cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST).code == 0
    _add_var(predecessor_root, "ocp-sno1", "clusterset: lab")
    writes = _writes(lab)
    refused = cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST)
    assert refused.code == 2, refused.err
    api = lab.clusters["ocp-sno1"].kube.url
    assert (
        f"error: ocp-sno1 is a live cluster (its API at {api} answers): manifests would build it anew, "
        "because the cluster's inventory entry changed since it was done\n"
    ) in refused.err
    assert "'proxshift provision ocp-sno1 --from start' runs what follows without it" in refused.err
    assert "use --force" not in refused.err and _writes(lab) == writes
    rest = cli("--root", predecessor_root, "provision", "ocp-sno1", "--from", "start", *FAST)
    assert rest.code == 0, rest.err


def test_after_skip_acm_a_plain_re_run_runs_the_import(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    """A live cluster with an unfinished phase resumes it, instead of 'use --force'."""
    first = cli("--root", predecessor_root, "provision", "ocp-sno2", "--skip", "acm", *FAST)
    assert first.code == 0, first.err
    # restore too: the predecessor's site config lists backup_secrets (there is nothing to restore yet)
    ran = "preflight, secrets, manifests, iso, upload, vms, start, wait, credentials, restore, health"
    assert f"✓ ocp-sno2: {ran} done in" in first.err
    assert "not done yet: acm\n" in first.err and "provisioned" not in first.err
    hub = lab.clusters["ocp-sno1"].kube.store
    assert hub.find(*MC, "ocp-sno2") is None
    resumed = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert resumed.code == 0, resumed.err
    assert re.search(r"✓ acm\s+done", resumed.err)
    assert "✓ ocp-sno2 provisioned in" in resumed.err
    assert hub.find(*MC, "ocp-sno2") is not None


def test_skip_acm_while_the_hub_is_down_is_a_warning_not_a_failed_run(
    predecessor_root: Path, lab: Lab, cli: CliRunner
) -> None:
    """s06: `provision ocp --skip acm` with the hub's API down failed its health phase (exit 1) on the row
    "ACM hub: unreachable", for a cluster never imported, which health.md counts as a warning."""
    lab.clusters["ocp-sno1"].kube.available = False
    skipped = cli("--root", predecessor_root, "provision", "ocp-sno2", "--skip", "acm", *FAST)
    assert skipped.code == 0, skipped.err
    assert re.search(r"warning\s+ACM hub: hub ocp-sno1 \(\S+\) is unreachable", skipped.err), skipped.err
    assert "(the acm phase has not run)" in skipped.err
    lab.clusters["ocp-sno1"].kube.available = True
    resumed = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert resumed.code == 0, resumed.err
    lab.clusters["ocp-sno1"].kube.available = False  # imported now: the hub out of reach fails the check
    imported = cli("--root", predecessor_root, "health", "ocp-sno2")
    assert imported.code == 1, imported.err
    assert re.search(r"ACM hub\s+failed", imported.out), imported.out


@pytest.mark.parametrize("fault", ["hub-credentials-missing", "hub-api-down"])
def test_a_failed_import_says_a_plain_re_run_resumes_it(
    predecessor_root: Path, lab: Lab, cli: CliRunner, fault: str
) -> None:
    """Fault scenarios s02c and s02d: the hub's API down, or its kubeconfig missing from Vault, during acm."""
    hub_secret = _stored(lab, "ocp-sno1")
    assert hub_secret is not None
    if fault == "hub-credentials-missing":
        _vault(lab).secrets.kv.v2.delete_metadata_and_all_versions(path="openshift/ocp-sno1", mount_point="secrets")
    else:
        lab.clusters["ocp-sno1"].kube.available = False
    failed = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert failed.code != 0
    assert re.search(r"✗ acm\s+failed", failed.err), failed.err
    assert "then 'proxshift provision ocp-sno2' resumes the import (the cluster itself is done)" in failed.err
    assert "--force" not in failed.err and "--skip acm" not in failed.err
    if fault == "hub-credentials-missing":
        assert "--hub-kubeconfig (provision, acm import)" in failed.err
        _vault(lab).secrets.kv.v2.create_or_update_secret(
            path="openshift/ocp-sno1", mount_point="secrets", secret=hub_secret
        )
    else:
        lab.clusters["ocp-sno1"].kube.available = True
    resumed = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert resumed.code == 0, resumed.err
    assert re.search(r"↷ wait\s+skipped: done, inputs unchanged", resumed.err)
    assert re.search(r"✓ acm\s+done", resumed.err)
    assert lab.clusters["ocp-sno1"].kube.store.find(*MC, "ocp-sno2") is not None


def test_provision_takes_the_hub_kubeconfig_from_the_command_line(
    predecessor_root: Path, lab: Lab, cli: CliRunner, tmp_path: Path
) -> None:
    hub_secret = _stored(lab, "ocp-sno1")
    assert hub_secret is not None
    _vault(lab).secrets.kv.v2.delete_metadata_and_all_versions(path="openshift/ocp-sno1", mount_point="secrets")
    hub_file = tmp_path / "hub-kubeconfig"
    hub_file.write_text(hub_secret["kubeconfig"])
    result = cli("--root", predecessor_root, "provision", "ocp-sno2", "--hub-kubeconfig", hub_file, *FAST)
    assert result.code == 0, result.err
    assert lab.clusters["ocp-sno1"].kube.store.find(*MC, "ocp-sno2") is not None


def test_vms_create_force_and_deprovision_list_the_vms_and_ask(
    predecessor_root: Path, lab: Lab, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    skip = ("--skip", "wait", "--skip", "credentials", "--skip", "acm")
    assert cli("--root", predecessor_root, "provision", "ocp-sno3", *skip, *FAST).code == 0
    inventory = predecessor_root / "inventory" / "clusters.yml"
    text = inventory.read_text()
    start = text.index("        ocp-sno3:")
    inventory.write_text(text[:start] + text[start:].replace("memory: 32768", "memory: 49152", 1))
    generation = lab.pve.vm(303).config["vmgenid"]
    refused = cli("--root", predecessor_root, "vms", "create", "ocp-sno3", "--force")
    assert refused.code == 2, refused.err
    assert "  recreate   VM master-sno3 (vmid 303 on pve4, running): memory: 32768 -> 49152\n" in refused.err
    assert "vms create ocp-sno3 --force destroys what is listed above and needs confirmation" in refused.err
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    declined = cli("--root", predecessor_root, "vms", "create", "ocp-sno3", "--force")
    assert declined.code == 1 and declined.err.endswith("Go ahead? [y/N] aborted, nothing changed\n")
    assert lab.pve.vm(303).config["vmgenid"] == generation
    recreated = cli("--root", predecessor_root, "vms", "create", "ocp-sno3", "--force", "--yes")
    assert recreated.code == 0, recreated.err
    assert str(lab.pve.vm(303).config["memory"]) == "49152"

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # no terminal
    no_terminal = cli("--root", predecessor_root, "deprovision", "ocp-sno3")
    assert no_terminal.code == 2
    assert "  destroy    VM master-sno3 (vmid 303 on pve4, stopped)\n" in no_terminal.err
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    declined = cli("--root", predecessor_root, "deprovision", "ocp-sno3")
    assert declined.code == 1 and declined.err.endswith("Go ahead? [y/N] aborted, nothing changed\n")
    assert lab.pve.vm(303) is not None
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    gone = cli("--root", predecessor_root, "deprovision", "ocp-sno3")
    assert gone.code == 0, gone.err
    assert lab.pve.vm(303) is None
