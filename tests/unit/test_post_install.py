"""config/post_install.py: the site config's post_install, a cluster's overrides, the predecessor's keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.post_install import post_install_for
from proxshift.config.project import Project, load_project
from proxshift.config.settings import load_settings
from proxshift.errors import InvalidInput
from tests.conftest import ProjectFiles

POST_INSTALL: dict[str, Any] = {
    "gitops": {
        "repo_url": "https://git.example.com/fleet.git",
        "repo_credentials": "secrets/data/openshift/gitops-repo",
        "wait_healthy": "5m",
    },
    "eso": {"flavor": "community", "kubernetes": {"role": "eso-{{ cluster_name }}"}},
    "backup": {"secrets": [{"name": "wildcard-tls", "namespace": "openshift-ingress"}], "cluster_certs": True},
}


def _load(project: ProjectFiles) -> Project:
    return load_project(discover_paths(project.write()))


def test_site_config_section_with_cluster_name_per_cluster(project: ProjectFiles) -> None:
    project.site["post_install"] = POST_INSTALL
    loaded = _load(project)
    sno = post_install_for(loaded.settings.post_install, loaded.cluster("sno"))
    assert sno.gitops is not None and sno.gitops.path == "clusters/sno" and sno.gitops.wait_seconds == 300
    assert (sno.gitops.channel, sno.gitops.source, sno.gitops.revision) == ("latest", "redhat-operators", "main")
    assert sno.eso is not None and (sno.eso.kubernetes.mount_path, sno.eso.kubernetes.role) == ("sno", "eso-sno")
    assert sno.eso.token_path is None and sno.eso.store_name == "vault-backend" and sno.eso.auth == "token"
    assert sno.backup is not None and sno.backup.configured
    multi = post_install_for(loaded.settings.post_install, loaded.cluster("multi"))
    assert multi.gitops is not None and multi.gitops.path == "clusters/multi"


def test_cluster_vars_override_key_by_key_and_null_turns_a_section_off(project: ProjectFiles) -> None:
    project.site["post_install"] = POST_INSTALL
    project.cluster("sno")["vars"]["post_install"] = {
        "gitops": {"revision": "v2", "path": "overlays/{{ cluster_name }}"},
        "eso": None,
        "backup": {"secrets": []},
    }
    loaded = _load(project)
    sno = post_install_for(loaded.settings.post_install, loaded.cluster("sno"))
    assert sno.gitops is not None
    assert (sno.gitops.repo_url, sno.gitops.revision, sno.gitops.path) == (
        "https://git.example.com/fleet.git",
        "v2",
        "overlays/sno",
    )
    assert sno.eso is None
    assert sno.backup is not None and sno.backup.secrets == [] and sno.backup.cluster_certs
    multi = post_install_for(loaded.settings.post_install, loaded.cluster("multi"))
    assert multi.eso is not None and multi.gitops is not None and multi.gitops.revision == "main"


def test_no_section_means_nothing_configured(project: ProjectFiles) -> None:
    loaded = _load(project)
    effective = post_install_for(loaded.settings.post_install, loaded.cluster("sno"))
    assert (effective.gitops, effective.eso, effective.backup) == (None, None, None)


def test_a_cluster_override_is_validated_where_it_is_written(project: ProjectFiles) -> None:
    project.cluster("sno")["vars"]["post_install"] = {
        "gitops": {"wait_healthy": "soon"},
        "eso": {"flavor": "vendor", "token_path": "kv/{{ hub }}"},
        "backup": {"secrets": [{"name": "Bad_Name", "namespace": "x"}]},
    }
    with pytest.raises(InvalidInput) as caught:
        _load(project)
    where = {p.location for p in caught.value.problems if p.is_error}
    assert where == {
        "clusters.sno.vars.post_install.gitops.wait_healthy",
        "clusters.sno.vars.post_install.eso.flavor",
        "clusters.sno.vars.post_install.backup.secrets.0.name",
    }


def test_a_reference_other_than_cluster_name_in_a_cluster_var_is_refused(project: ProjectFiles) -> None:
    project.cluster("sno")["vars"]["post_install"] = {"eso": {"token_path": "kv/{{ hub }}/eso"}}
    with pytest.raises(InvalidInput) as caught:
        _load(project)
    assert [p.location for p in caught.value.problems if p.is_error] == [
        "clusters.sno.vars.post_install.eso.token_path"
    ]


def test_unknown_key_in_the_site_section_names_it(project: ProjectFiles) -> None:
    project.site["post_install"] = {"gitops": {"repo": "https://x"}}
    with pytest.raises(InvalidInput) as caught:
        _load(project)
    assert [p.location for p in caught.value.problems if p.is_error] == ["post_install.gitops.repo"]


def test_site_references_resolve_inside_post_install(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        "git_server: https://git.example.com\n"  # an unknown key (warned), referred to below
        "post_install:\n  gitops:\n    repo_url: '{{ git_server }}/fleet.git'\n    path: 'c/{{ cluster_name }}'\n"
    )
    settings = load_settings(discover_paths(tmp_path, config))
    assert settings.post_install.gitops is not None
    assert settings.post_install.gitops.repo_url == "https://git.example.com/fleet.git"
    assert settings.post_install.gitops.path == "c/{{ cluster_name }}"


def test_cluster_name_outside_post_install_is_still_an_error(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("hub_cluster: '{{ cluster_name }}'\n")
    with pytest.raises(InvalidInput) as caught:
        load_settings(discover_paths(tmp_path, config))
    assert [(p.location, "cluster_name" in p.message) for p in caught.value.problems] == [("hub_cluster", True)]


def test_predecessor_backup_secrets_are_read_and_its_directories_warned(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        'gitops_root: "{{ ansible_user_dir }}/.proxshift/gitops"\n'
        "backup_secrets:\n  - {name: secret-your-domain-tls, namespace: ingress}\n"
        'backup_dir: "{{ gitops_root }}/backups"\n'
    )
    settings = load_settings(discover_paths(tmp_path, config))
    backup = settings.post_install.backup
    assert backup is not None and [(s.name, s.namespace) for s in backup.secrets] == [
        ("secret-your-domain-tls", "ingress")
    ]
    warned = {w.location: w for w in settings.warnings}
    assert set(warned) == {"gitops_root", "backup_dir"}
    assert "docs/gitops.md" in warned["gitops_root"].fix and warned["gitops_root"].line == 1
    assert f"({Path.home()}/.proxshift/gitops/backups)" in warned["backup_dir"].fix
    assert "--from-dir" in warned["backup_dir"].fix
    assert "backup_secrets" not in settings.ignored_keys


def test_post_install_backup_secrets_win_over_the_predecessors(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        "backup_secrets:\n  - {name: old, namespace: ingress}\n"
        "post_install:\n  backup:\n    secrets: [{name: new, namespace: openshift-ingress}]\n"
    )
    backup = load_settings(discover_paths(tmp_path, config)).post_install.backup
    assert backup is not None and [s.name for s in backup.secrets] == ["new"]


def test_predecessor_backup_secrets_join_a_backup_section_without_secrets(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        "post_install:\n  backup: {cluster_certs: true}\nbackup_secrets:\n  - {name: old, namespace: ingress}\n"
    )
    backup = load_settings(discover_paths(tmp_path, config)).post_install.backup
    assert backup is not None and backup.cluster_certs and [s.name for s in backup.secrets] == ["old"]
