"""config/settings.py: the site config: unknown keys, a missing file, the predecessor's vault_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.settings import load_settings
from proxshift.errors import InvalidInput, UserInputError


def test_unknown_site_key_warns_with_closest(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("hub_clustr: x\n")
    settings = load_settings(discover_paths(tmp_path, config))
    assert [(w.location, w.fix) for w in settings.warnings] == [("hub_clustr", "did you mean 'hub_cluster'?")]


def test_missing_explicit_config_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="site config not found"):
        load_settings(discover_paths(tmp_path, tmp_path / "missing.yaml"))


def _with_vault_path(tmp_path: Path, value: str) -> Path:
    config = tmp_path / "site.yaml"
    config.write_text(f"vault_path: '{value}'\n")
    return config


def test_vault_path_as_kv_path(tmp_path: Path) -> None:
    settings = load_settings(discover_paths(tmp_path, _with_vault_path(tmp_path, "kv/data/ocp")))
    assert settings.credentials_path == "kv/data/ocp"


def test_vault_path_as_missing_credentials_file_uses_defaults(tmp_path: Path) -> None:
    settings = load_settings(discover_paths(tmp_path, _with_vault_path(tmp_path, str(tmp_path / "nope.yml"))))
    assert settings.credentials_path == "secrets/data/openshift"
    assert settings.warnings == ()


def test_vault_path_as_plain_credentials_file(tmp_path: Path) -> None:
    creds = tmp_path / "vault-credentials.yml"
    creds.write_text(
        "vault_addr: 'https://vault.lab:8200'\nvault_token: 'hvs.do-not-print'\nvault_path: 'kv/data/clusters'\n"
        "proxmox_api_password: 'pw-do-not-print'\n"
    )
    settings = load_settings(discover_paths(tmp_path, _with_vault_path(tmp_path, str(creds))))
    assert (settings.credentials_path, settings.vault_addr) == ("kv/data/clusters", "https://vault.lab:8200")
    [warning] = settings.warnings
    assert warning.location == "proxmox_api_password, vault_token"
    assert "plain file" in warning.message
    assert "do-not-print" not in warning.render()


def test_vault_path_as_encrypted_credentials_file(tmp_path: Path) -> None:
    creds = tmp_path / "vault-credentials.yml"
    creds.write_text("$ANSIBLE_VAULT;1.1;AES256\n6162636465\n")
    settings = load_settings(discover_paths(tmp_path, _with_vault_path(tmp_path, str(creds))))
    [warning] = settings.warnings
    assert "ansible-vault encrypted" in warning.message
    assert "docs/migration.md" in warning.fix
    assert settings.credentials_path == "secrets/data/openshift"


def test_add_nodes_agent_url_is_a_template_of_ip_and_host(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("add_nodes_agent_url: 'https://tunnel.example/{host}/api/assisted-install/v2'\n")
    assert load_settings(discover_paths(tmp_path, config)).add_nodes_agent_url.startswith("https://tunnel")
    config.write_text("add_nodes_agent_url: 'http://{address}:8090/'\n")
    with pytest.raises(InvalidInput) as raised:
        load_settings(discover_paths(tmp_path, config))
    assert "may use only the placeholders {ip} and {host}" in raised.value.problems[0].message
