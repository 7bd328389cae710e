"""config/references.py: the predecessor's {{ key }} references, as the site config is loaded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.references import resolve_references
from proxshift.config.settings import load_settings
from proxshift.errors import InvalidInput
from tests.conftest import PREDECESSOR


def test_predecessor_site_config_references_resolve() -> None:
    paths = discover_paths(Path("/x"), PREDECESSOR / "site-config.yaml", PREDECESSOR / "clusters.yml")
    settings = load_settings(paths)
    assert settings.hub_cluster == "ocp-sno1"
    assert settings.ignored_keys == (
        "iso_boot_path",
        "hub_cluster_api_url",
        "ocp_iso_image",
        "cluster_marker",
    )
    # gitops_root and backup_dir are warned about, backup_secrets is read (tests/unit/test_post_install.py).
    assert [w.location for w in settings.warnings] == ["backup_dir", "gitops_root"]
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


def test_only_the_keys_asked_for_and_what_they_refer_to_are_resolved() -> None:
    raw = {"a": "{{ b.c }}/x", "b": {"c": "{{ ansible_user_dir }}"}, "unused": "{{ ocp_install_dir }}"}
    resolved, problems = resolve_references(raw, {"ansible_user_dir": "/home/u"}, "site.yaml", ["a"])
    assert (resolved, problems) == ({"a": "/home/u/x"}, [])


def test_doubling_references_are_refused_fast() -> None:
    raw: dict[str, Any] = {"k0": "x" * 1000}
    raw |= {f"k{i}": f"{{{{ k{i - 1} }}}}{{{{ k{i - 1} }}}}" for i in range(1, 40)}
    started = time.monotonic()
    resolved, problems = resolve_references(raw, {}, "site-config.yaml", ["k39"])
    assert time.monotonic() - started < 2
    assert resolved == {}
    [problem] = problems
    assert problem.location == "k39"
    assert "more than" in problem.message


def test_a_long_reference_chain_is_refused_without_recursion_error() -> None:
    raw: dict[str, Any] = {"k0": "x"} | {f"k{i}": f"{{{{ k{i - 1} }}}}" for i in range(1, 5000)}
    resolved, problems = resolve_references(raw, {}, "site-config.yaml", ["k4999"])
    assert resolved == {}
    assert "nest more than" in problems[0].message
