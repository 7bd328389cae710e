"""YAML reading (MACs, WWNs, line numbers) and the site config (discovery, references)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.settings import load_settings
from proxshift.config.yamlio import load_yaml
from proxshift.errors import InvalidInput, UserInputError
from tests.conftest import PREDECESSOR, CliRunner, ProjectFiles


def test_unquoted_all_digit_mac_stays_text(tmp_path: Path) -> None:
    """YAML 1.1 reads 52:54:00:12:34:56 as the base-60 integer 2491502896; we must not."""
    f = tmp_path / "x.yml"
    f.write_text("mac: 52:54:00:12:34:56\nwwn: 0x5000c50000000004\nsize: 120\nratio: 1.5\nok: yes\nneg: -3\n")
    data, _ = load_yaml(f)
    assert data == {
        "mac": "52:54:00:12:34:56",
        "wwn": "0x5000c50000000004",
        "size": 120,
        "ratio": 1.5,
        "ok": True,
        "neg": -3,
    }


def test_unquoted_mac_in_inventory_is_used_as_written(project: ProjectFiles, cli: CliRunner) -> None:
    root = project.write()
    inv = root / "inventory" / "clusters.yml"
    inv.write_text(inv.read_text().replace("mac: BC:24:11:00:00:01", "mac: 52:54:00:12:34:56"))
    result = cli("--root", root, "show", "sno", "--json")
    assert result.code == 0, result.err
    assert '"mac": "52:54:00:12:34:56"' in result.out


def test_line_numbers_follow_keys(tmp_path: Path) -> None:
    f = tmp_path / "x.yml"
    f.write_text("a:\n  b:\n    c: 1\n  d: [x, y]\n")
    _, lines = load_yaml(f)
    assert lines[("a", "b", "c")] == 3
    assert lines[("a", "d", "1")] == 4


def test_broken_yaml_names_file_and_line(project: ProjectFiles, cli: CliRunner) -> None:
    root = project.write()
    (root / "inventory" / "clusters.yml").write_text("all:\n  children:\n    clusters: [\n")
    result = cli("--root", root, "validate")
    assert result.code == 2
    assert "inventory/clusters.yml" in result.err and "is not valid YAML" in result.err
    assert "Traceback" not in result.err


def test_missing_inventory(tmp_path: Path, cli: CliRunner) -> None:
    result = cli("--root", tmp_path, "clusters")
    assert result.code == 2
    assert "inventory/clusters.yml: file not found" in result.err


def test_predecessor_site_config_references_resolve() -> None:
    paths = discover_paths(Path("/x"), PREDECESSOR / "site-config.yaml", PREDECESSOR / "clusters.yml")
    settings = load_settings(paths)
    assert settings.hub_cluster == "ocp-sno1"
    assert settings.ignored_keys == (
        "iso_boot_path",
        "hub_cluster_api_url",
        "ocp_iso_image",
        "cluster_marker",
        "gitops_root",
        "backup_secrets",
        "backup_dir",
    )
    assert settings.warnings == ()
    assert [i.name for i in settings.vault_items] == ["pull-secret", "ssh-key", "cert-bundle"]


def test_per_cluster_names_are_not_values(tmp_path: Path) -> None:
    """Ansible set ocp_install_dir per cluster: accepted in the keys proxshift ignores, an error where used."""
    config = tmp_path / "site.yaml"
    config.write_text(
        "cluster_marker: '{{ ocp_install_dir }}/.done'\nhub_cluster_api_url: 'https://{{ cluster_name }}'\n"
    )
    assert load_settings(discover_paths(tmp_path, config)).ignored_keys == ("cluster_marker", "hub_cluster_api_url")
    config.write_text("hub_cluster: '{{ cluster_name }}'\n")
    with pytest.raises(InvalidInput) as caught:
        load_settings(discover_paths(tmp_path, config))
    assert [(p.location, p.message) for p in caught.value.problems] == [
        ("hub_cluster", "refers to 'cluster_name', which is neither a key of this file nor a known name")
    ]


def test_home_reference(tmp_path: Path, isolated_env: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("ocp_installer_path: '{{ ansible_user_dir }}/bin'\n")
    assert load_settings(discover_paths(tmp_path, config)).ocp_installer_path == f"{isolated_env}/bin"


@pytest.mark.parametrize(
    ("text", "location", "message"),
    [
        ("hub_cluster: '{{ nope }}'\n", "hub_cluster", "refers to 'nope'"),
        ("hub_cluster: '{{ a }}'\na: '{{ hub_cluster }}'\n", "hub_cluster", "loop"),
        ("hub_cluster: '{{ x | default(1) }}'\n", "hub_cluster", "not a plain reference"),
    ],
)
def test_bad_references_name_the_key(tmp_path: Path, text: str, location: str, message: str) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        load_settings(discover_paths(tmp_path, config))
    assert any(p.location == location and message in p.message for p in caught.value.problems)


def test_unknown_site_key_warns_with_closest(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("hub_clustr: x\n")
    settings = load_settings(discover_paths(tmp_path, config))
    assert [(w.location, w.fix) for w in settings.warnings] == [("hub_clustr", "did you mean 'hub_cluster'?")]


def test_discovery_order(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home_config = isolated_env / ".proxshift" / "site-config.yaml"
    home_config.parent.mkdir()
    home_config.write_text("{}\n")
    assert discover_paths(tmp_path).config == home_config
    root_config = tmp_path / "config" / "site-config.yaml"
    root_config.parent.mkdir()
    root_config.write_text("{}\n")
    assert discover_paths(tmp_path).config == root_config
    monkeypatch.setenv("PROXSHIFT_CONFIG", str(tmp_path / "env.yaml"))
    assert discover_paths(tmp_path).config == tmp_path / "env.yaml"
    assert discover_paths(tmp_path, tmp_path / "flag.yaml").config == tmp_path / "flag.yaml"
    monkeypatch.setenv("PROXSHIFT_ROOT", str(tmp_path / "r"))
    assert discover_paths().inventory == tmp_path / "r" / "inventory" / "clusters.yml"


def test_missing_explicit_config_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="site config not found"):
        load_settings(discover_paths(tmp_path, tmp_path / "missing.yaml"))


def test_show_without_site_config_says_where_it_looked(project: ProjectFiles, cli: CliRunner) -> None:
    root = project.write()
    (root / "config" / "site-config.yaml").unlink()
    result = cli("--root", root, "show", "sno")
    assert result.code == 2
    assert "no site config found (looked in:" in result.err
    assert cli("--root", root, "clusters").code == 0


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
