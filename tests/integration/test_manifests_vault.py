"""`proxshift manifests` against a real OpenBao: the predecessor's manifests, minus its defects."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxshift.config.install_dir import MANIFEST_NAMES
from tests.conftest import FIXTURES, PREDECESSOR, CliRunner
from tests.integration.conftest import VaultFixture

GOLDEN = FIXTURES / "golden"
CLUSTERS = ["ocp", "ocp3", "ocp-sno1", "ocp-sno2", "ocp-sno3"]
SEED = json.loads((PREDECESSOR / "rendered" / "vault-seed.json").read_text())["secrets"]
SECRET_VALUES = [
    SEED["openshift/pullsecret"]["secret"],
    json.loads(SEED["openshift/pullsecret"]["secret"])["auths"]["quay.io"]["auth"],
    SEED["your-ssh-pubkey"]["key"].split()[1],
    SEED["your-ca-bundle"]["ca-bundle.crt"].splitlines()[1],
]


def _predecessor_with_fixes(cluster: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the predecessor rendered, with exactly the documented fixes applied."""
    install = yaml.safe_load((PREDECESSOR / "rendered" / cluster / "install-config.yaml").read_text())
    agent = yaml.safe_load((PREDECESSOR / "rendered" / cluster / "agent-config.yaml").read_text())
    install["pullSecret"] = json.dumps(json.loads(json.loads(install["pullSecret"])), separators=(",", ":"))
    for pool in [install["controlPlane"], *install["compute"]]:
        pool.pop("rootVolume", None)
    agent["apiVersion"] = "v1beta1"
    return install, agent


@pytest.mark.parametrize("cluster", ["ocp-sno1", "ocp"])
def test_same_manifests_as_predecessor_minus_its_defects(seeded_root: Path, cli: CliRunner, cluster: str) -> None:
    result = cli("--root", seeded_root, "manifests", cluster)
    assert result.code == 0, result.err
    out_dir = seeded_root / "ocp_install" / cluster
    install = yaml.safe_load((out_dir / "install-config.yaml").read_text())
    agent = yaml.safe_load((out_dir / "agent-config.yaml").read_text())
    assert (install, agent) == _predecessor_with_fixes(cluster)


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_golden_manifests_for_every_cluster(seeded_root: Path, cli: CliRunner, cluster: str) -> None:
    assert cli("--root", seeded_root, "manifests", cluster).code == 0
    for name in MANIFEST_NAMES:
        written = (seeded_root / "ocp_install" / cluster / name).read_text()
        assert written == (GOLDEN / cluster / name).read_text(), f"{cluster}/{name} differs from the golden file"
        kept = seeded_root / "ocp_install" / cluster / "rendered" / name
        assert kept.read_text() == written


def test_golden_files_pass_the_checker() -> None:
    from proxshift.manifests.check import check_files

    for cluster in CLUSTERS:
        problems = check_files(
            (GOLDEN / cluster / "install-config.yaml").read_text(), (GOLDEN / cluster / "agent-config.yaml").read_text()
        )
        assert [p.render() for p in problems if p.is_error] == []


def test_pull_secret_stored_as_object_renders_the_same(seeded_root: Path, vault: VaultFixture, cli: CliRunner) -> None:
    assert cli("--root", seeded_root, "manifests", "ocp-sno1").code == 0
    first = (seeded_root / "ocp_install" / "ocp-sno1" / "install-config.yaml").read_text()
    vault.put("openshift/pullsecret", {"secret": json.loads(SEED["openshift/pullsecret"]["secret"])})
    assert cli("--root", seeded_root, "manifests", "ocp-sno1").code == 0
    assert (seeded_root / "ocp_install" / "ocp-sno1" / "install-config.yaml").read_text() == first


def test_trailing_newline_is_stripped(seeded_root: Path, vault: VaultFixture, cli: CliRunner) -> None:
    vault.put("your-ssh-pubkey", {"key": SEED["your-ssh-pubkey"]["key"] + "\n"})
    assert cli("--root", seeded_root, "manifests", "ocp-sno1").code == 0
    install = yaml.safe_load((seeded_root / "ocp_install" / "ocp-sno1" / "install-config.yaml").read_text())
    assert install["sshKey"] == SEED["your-ssh-pubkey"]["key"]


def test_no_trust_bundle_without_ca_and_policy_settable(seeded_root: Path, cli: CliRunner) -> None:
    config = seeded_root / "config" / "site-config.yaml"
    text = config.read_text()
    start = text.index("  - name: cert-bundle")
    text = text[:start] + text[text.index("# 🌐") :]
    config.write_text(text + "additional_trust_bundle_policy: Always\n")
    assert cli("--root", seeded_root, "manifests", "ocp-sno1").code == 0, "x"
    install = yaml.safe_load((seeded_root / "ocp_install" / "ocp-sno1" / "install-config.yaml").read_text())
    assert "additionalTrustBundle" not in install
    assert install["additionalTrustBundlePolicy"] == "Always"


def test_roles_and_ips_come_from_the_models(seeded_root: Path, cli: CliRunner) -> None:
    inventory = seeded_root / "inventory" / "clusters.yml"
    text = inventory.read_text().replace(
        "            ocp-node4:\n              pve_node: pve4\n",
        "            ocp-node4:\n              role: master\n              ip: 192.168.1.99\n"
        "              pve_node: pve4\n",
    )
    text = text.replace(
        "            ocp-node3:\n              pve_node: pve3\n",
        "            ocp-node3:\n              role: worker\n              pve_node: pve3\n",
    )
    inventory.write_text(text)
    assert cli("--root", seeded_root, "manifests", "ocp").code == 0
    agent = yaml.safe_load((seeded_root / "ocp_install" / "ocp" / "agent-config.yaml").read_text())
    hosts = {h["hostname"]: h for h in agent["hosts"]}
    assert hosts["ocp-node3"]["role"] == "worker"
    assert hosts["ocp-node4"]["role"] == "master"
    assert hosts["ocp-node4"]["networkConfig"]["interfaces"][0]["ipv4"]["address"][0]["ip"] == "192.168.1.99"


def test_files_are_private_and_rewrites_go_to_history(seeded_root: Path, cli: CliRunner) -> None:
    assert cli("--root", seeded_root, "manifests", "ocp-sno1").code == 0
    out_dir = seeded_root / "ocp_install" / "ocp-sno1"
    assert stat.S_IMODE(out_dir.stat().st_mode) == 0o700
    for path in [
        out_dir / "install-config.yaml",
        out_dir / "agent-config.yaml",
        out_dir / "rendered" / "agent-config.yaml",
    ]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = cli("--root", seeded_root, "manifests", "ocp-sno1")
    assert "unchanged ocp_install/ocp-sno1/install-config.yaml" in again.err
    assert not (out_dir / "history").exists()
    (out_dir / "install-config.yaml").write_text("edited by hand\n")
    third = cli("--root", seeded_root, "manifests", "ocp-sno1")
    assert third.code == 0
    history = list((out_dir / "history").iterdir())
    assert len(history) == 1
    assert (history[0] / "install-config.yaml").read_text() == "edited by hand\n"
    assert "previous files moved to ocp_install/ocp-sno1/history/" in third.err


def test_dry_run_redacts_and_writes_nothing(seeded_root: Path, cli: CliRunner, vault: VaultFixture) -> None:
    result = cli("--root", seeded_root, "manifests", "ocp", "--dry-run")
    assert result.code == 0, result.err
    assert f"pullSecret: '<redacted: pull-secret from {vault.mount}/data/openshift/pullsecret>'" in result.out
    assert f"sshKey: '<redacted: ssh-key from {vault.mount}/data/your-ssh-pubkey>'" in result.out
    assert f"<redacted: cert-bundle from {vault.mount}/data/your-ca-bundle>" in result.out
    assert "rendezvousIP: 192.168.1.10" in result.out
    for value in SECRET_VALUES:
        assert value not in result.out and value not in result.err
    assert not (seeded_root / "ocp_install").exists()


def test_a_run_that_writes_renders_once(seeded_root: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy with placeholders is for printing: --dry-run renders it, a run that writes does not."""
    from proxshift.engine import manifests_flow

    renders: list[str] = []

    def counted(*args: Any) -> Any:
        renders.append("render")
        return render(*args)

    render = manifests_flow.render
    monkeypatch.setattr(manifests_flow, "render", counted)
    assert cli("--root", seeded_root, "manifests", "ocp").code == 0
    assert len(renders) == 1
    assert cli("--root", seeded_root, "manifests", "ocp", "--dry-run").code == 0
    assert len(renders) == 3


def test_no_vault_renders_offline(predecessor_root: Path, cli: CliRunner, tmp_path: Path) -> None:
    result = cli("--root", predecessor_root, "manifests", "ocp-sno1", "--no-vault")
    assert result.code == 0, result.err
    assert "pullSecret: '<redacted: pull-secret from secrets/data/openshift/pullsecret>'" in result.out
    assert not (predecessor_root / "ocp_install").exists()
    out = tmp_path / "review"
    assert cli("--root", predecessor_root, "manifests", "ocp-sno1", "--no-vault", "--output-dir", out).code == 0
    assert (out / "agent-config.yaml").is_file()


def test_secrets_only_in_the_two_manifests(seeded_root: Path, cli: CliRunner) -> None:
    result = cli("--root", seeded_root, "manifests", "ocp")
    assert result.code == 0
    for value in SECRET_VALUES:
        assert value not in result.out and value not in result.err
    for path in seeded_root.rglob("*"):
        if path.is_file() and path.name not in MANIFEST_NAMES:
            text = path.read_text(errors="replace")
            assert not any(v in text for v in SECRET_VALUES), path


def test_template_override_is_checked_the_same_way(seeded_root: Path, cli: CliRunner) -> None:
    templates = seeded_root / "templates"
    templates.mkdir()
    packaged = Path(__file__).parents[2] / "src" / "proxshift" / "manifests" / "templates" / "agent-config.yaml.j2"
    (templates / "agent-config.yaml.j2").write_text(packaged.read_text().replace("role: {{ host.role }}", "role: boss"))
    result = cli("--root", seeded_root, "manifests", "ocp-sno1")
    assert result.code == 2
    assert "agent-config.yaml: hosts/0/role: 'boss' is not one of" in result.err
    assert "clusters.ocp-sno1.hosts.master-sno1" in result.err
    assert not (seeded_root / "ocp_install" / "ocp-sno1" / "agent-config.yaml").exists()


def test_manifest_rule_failure_names_rule_and_inventory_place(seeded_root: Path, cli: CliRunner) -> None:
    config = seeded_root / "config" / "site-config.yaml"
    config.write_text(config.read_text().replace('service_cidr: "172.30.0.0/16"', 'service_cidr: "100.64.0.0/16"'))
    result = cli("--root", seeded_root, "manifests", "ocp-sno1")
    assert result.code == 2
    assert (
        "config/site-config.yaml: network_defaults.service_cidr: install-config.yaml: networking/serviceNetwork/0"
        in result.err
    )
    assert "[OVN reserved ranges]" in result.err
    assert not (seeded_root / "ocp_install").exists()
