"""engine/nodes_plan.py against OpenBao: the kubeconfig from Vault, else (nothing stored) the install dir's."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.engine.connections import cluster_kubeconfig
from proxshift.errors import UserInputError
from tests.integration.conftest import VaultFixture


def test_vault_first_then_the_install_dir(seeded_root: Path, vault: VaultFixture) -> None:
    site = seeded_root / "config" / "site-config.yaml"
    text = site.read_text().replace(
        "vault_path: '~/.proxshift/vault-credentials.yml'", f"vault_path: {vault.mount}/data/openshift"
    )
    site.write_text(text)
    project = load_project(discover_paths(seeded_root))
    with pytest.raises(UserInputError, match=r"no credentials of ocp: nothing at Vault .*/openshift/ocp, no "):
        cluster_kubeconfig(project, "ocp", print)
    local = seeded_root / "ocp_install" / "ocp" / "auth" / "kubeconfig"
    local.parent.mkdir(parents=True)
    local.write_text("apiVersion: v1\nkind: Config\n# local\n")
    kubeconfig, source = cluster_kubeconfig(project, "ocp", print)
    assert (kubeconfig.reveal(), source) == (local.read_text(), str(local))
    vault.put("openshift/ocp", {"api": "https://api", "kubeconfig": "# from vault\n", "kubeadmin": "x"})
    kubeconfig, source = cluster_kubeconfig(project, "ocp", print)
    assert kubeconfig.reveal() == "# from vault\n" and source == f"Vault {vault.mount}/data/openshift/ocp"
