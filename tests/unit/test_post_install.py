"""config/post_install.py: the site config's post_install, a cluster's overrides, hooks, node labels, the
predecessor's keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.post_install import PHASE_NAMES, Hooks, fill, label_problems, post_install_for
from proxshift.config.project import Project, load_project
from proxshift.config.settings import load_settings
from proxshift.engine.phases.flow import names
from proxshift.engine.state import cluster_fingerprint
from proxshift.errors import InvalidInput, Problem
from tests.conftest import CliRunner, ProjectFiles

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


def _problems(project: ProjectFiles) -> list[Problem]:
    with pytest.raises(InvalidInput) as raised:
        _load(project)
    return [p for p in raised.value.problems if p.is_error]


def test_the_phase_names_hooks_may_use_are_the_flow() -> None:
    assert list(PHASE_NAMES) == names()


def test_site_defaults_and_cluster_overrides_key_by_key(project: ProjectFiles) -> None:
    project.site["post_install"] = {
        "node_labels": {"topology.kubernetes.io/region": "homelab"},
        "default_storage_class": "nfs-sc",
        "storage_class_timeout": "5m",
    }
    project.cluster("sno")["vars"]["post_install"] = {"default_storage_class": "lvms-vg1"}
    project.host("multi", "m-node4")["node_labels"] = {
        "cluster.ocs.openshift.io/openshift-storage": "",
        "topology.kubernetes.io/region": "rack2",
    }
    loaded = _load(project)
    defaults = loaded.settings.post_install
    sno, multi = loaded.cluster("sno"), loaded.cluster("multi")
    assert sno.post_install(defaults).default_storage_class == "lvms-vg1"
    assert sno.post_install(defaults).node_labels == {"topology.kubernetes.io/region": "homelab"}  # not overridden
    assert sno.post_install(defaults).storage_class_timeout == 300
    assert multi.post_install(defaults).default_storage_class == "nfs-sc"
    assert multi.node_labels(defaults, multi.node("m-node1")) == {"topology.kubernetes.io/region": "homelab"}
    assert multi.node_labels(defaults, multi.node("m-node4")) == {  # the host's win
        "topology.kubernetes.io/region": "rack2",
        "cluster.ocs.openshift.io/openshift-storage": "",
    }


def test_without_post_install_nothing_is_configured(project: ProjectFiles) -> None:
    loaded = _load(project)
    settings = loaded.settings
    sno = loaded.cluster("sno")
    assert sno.post_install(settings.post_install).default_storage_class is None
    assert sno.node_labels(settings.post_install, sno.nodes[0]) == {}
    assert sno.hooks(settings.hooks) == Hooks()
    assert sno.hook_timeout(settings.hook_timeout) == 600


def test_hooks_merge_per_phase_and_keep_per_cluster_names(project: ProjectFiles) -> None:
    project.site["hooks"] = {
        "before": {"vms": [["./hooks/reserve-dns.sh", "{{ cluster_name }}"]]},
        "after": {"acm": [["./hooks/notify.sh", "{{ hub_cluster }}"]], "credentials": [["./hooks/smoke.sh"]]},
    }
    project.site["hub_cluster"] = "multi"
    project.site["hook_timeout"] = "2m"
    project.cluster("sno")["vars"]["hooks"] = {"after": {"credentials": [["./hooks/sno-smoke.sh", "{{ phase }}"]]}}
    project.cluster("sno")["vars"]["hook_timeout"] = "30s"
    loaded = _load(project)
    settings = loaded.settings
    sno, multi = loaded.cluster("sno"), loaded.cluster("multi")
    # A site-config reference is resolved now; a per-cluster name waits for the cluster.
    assert multi.hooks(settings.hooks).after["acm"] == [["./hooks/notify.sh", "multi"]]
    assert multi.hooks(settings.hooks).before["vms"] == [["./hooks/reserve-dns.sh", "{{ cluster_name }}"]]
    assert sno.hooks(settings.hooks).after == {
        "acm": [["./hooks/notify.sh", "multi"]],
        "credentials": [["./hooks/sno-smoke.sh", "{{ phase }}"]],
    }
    assert (sno.hook_timeout(settings.hook_timeout), multi.hook_timeout(settings.hook_timeout)) == (30, 120)
    assert fill("{{ cluster_name }}-{{phase}}", {"cluster_name": "sno", "phase": "vms"}) == "sno-vms"


def test_a_hook_of_an_unknown_phase_is_a_validation_error(project: ProjectFiles) -> None:
    project.site["hooks"] = {"after": {"credential": [["./x.sh"]]}}
    project.cluster("sno")["vars"]["hooks"] = {"before": {"vm": [["./y.sh", "{{ cluster }}"]]}}
    problems = {(p.file, p.location): p for p in _problems(project)}
    site = problems[("config/site-config.yaml", "hooks.after.credential")]
    assert site.message == "'credential' is not a phase" and site.fix.startswith("did you mean 'credentials'?")
    assert site.line is not None
    assert problems[("inventory/clusters.yml", "clusters.sno.vars.hooks.before.vm")].fix.startswith(
        "did you mean 'vms'?"
    )
    unknown_name = problems[("inventory/clusters.yml", "clusters.sno.vars.hooks.before.vm.0")]
    assert "'{{ cluster }}', which a hook has no value for" in unknown_name.message


def test_a_hook_is_a_non_empty_argument_list(project: ProjectFiles) -> None:
    project.site["hooks"] = {"before": {"vms": ["./not-a-list.sh", []]}}
    locations = {p.location for p in _problems(project)}
    assert locations == {"hooks.before.vms.0", "hooks.before.vms.1"}


@pytest.mark.parametrize(
    ("labels", "bad"),
    [
        ({"ok.example.com/role": "a", "bad key": ""}, "'bad key' is not a valid label key"),
        ({"Upper.Prefix/x": ""}, "'Upper.Prefix/x' is not a valid label key"),
        ({"x" * 64: ""}, "is not a valid label key"),
        ({"region": "not ok!"}, "'not ok!' is not a valid label value for 'region'"),
        ({"region": "-starts-with-dash"}, "is not a valid label value"),
    ],
)
def test_label_syntax(labels: dict[str, str], bad: str) -> None:
    [problem] = label_problems(labels, "f", "node_labels")
    assert bad in problem.message
    assert problem.location.startswith("node_labels.")


def test_good_labels_pass() -> None:
    labels = {"topology.kubernetes.io/region": "homelab", "cluster.ocs.openshift.io/openshift-storage": "", "a.b": "1"}
    assert list(label_problems(labels, "f", "node_labels")) == []


def test_bad_labels_name_their_place_with_exit_2(project: ProjectFiles, cli: CliRunner) -> None:
    project.site["post_install"] = {"node_labels": {"bad key": "x"}}
    project.cluster("multi")["vars"]["post_install"] = {"node_labels": {"zone": "a b"}}
    project.host("sno", "sno-node1")["node_labels"] = {"disk": 1}  # a type error: its cluster is not read further
    project.write()
    result = cli("--root", project.root, "validate")
    assert result.code == 2
    assert "config/site-config.yaml:" in result.err
    assert "post_install.node_labels.bad key: 'bad key' is not a valid label key" in result.err
    assert "clusters.multi.vars.post_install.node_labels.zone: 'a b' is not a valid label value" in result.err
    assert "clusters.sno.hosts.sno-node1.node_labels.disk: Input should be a valid string" in result.err
    assert "Traceback" not in result.err


def test_a_bad_duration_is_a_validation_error(project: ProjectFiles) -> None:
    project.site["post_install"] = {"storage_class_timeout": "soon"}
    [problem] = _problems(project)
    assert problem.location == "post_install.storage_class_timeout"
    assert "'soon' is not a duration" in problem.message


def test_post_install_keys_leave_the_install_inputs_alone(project: ProjectFiles) -> None:
    """Changing labels, hooks or post_install re-runs no install phase (the fingerprint leaves them out)."""
    before = _load(project).cluster("multi")
    project.cluster("multi")["vars"]["post_install"] = {"default_storage_class": "nfs-sc"}
    project.cluster("multi")["vars"]["hooks"] = {"after": {"acm": [["./x.sh"]]}}
    project.host("multi", "m-node1")["node_labels"] = {"a": "b"}
    after = _load(project).cluster("multi")
    assert cluster_fingerprint(after) == cluster_fingerprint(before)
    project.host("multi", "m-node1")["memory"] = 65536
    assert cluster_fingerprint(_load(project).cluster("multi")) != cluster_fingerprint(before)


def test_node_labels_merge_label_by_label_with_the_other_sections(project: ProjectFiles) -> None:
    """One post_install: node labels and the storage keys beside gitops, eso and backup, all merged key by key."""
    project.site["post_install"] = {
        **POST_INSTALL,
        "node_labels": {"topology.kubernetes.io/region": "homelab", "tier": "lab"},
        "default_storage_class": "nfs-sc",
    }
    project.cluster("multi")["vars"]["post_install"] = {
        "node_labels": {"topology.kubernetes.io/zone": "a", "tier": None},  # null removes the site's label
        "gitops": {"revision": "v2"},
        "backup": None,
    }
    project.host("multi", "m-node4")["node_labels"] = {"topology.kubernetes.io/zone": "b"}
    loaded = _load(project)
    defaults = loaded.settings.post_install
    multi = loaded.cluster("multi")
    effective = multi.post_install(defaults)
    assert effective.node_labels == {"topology.kubernetes.io/region": "homelab", "topology.kubernetes.io/zone": "a"}
    assert effective.default_storage_class == "nfs-sc" and effective.backup is None
    assert effective.gitops is not None and (effective.gitops.revision, effective.gitops.wait_seconds) == ("v2", 300)
    assert multi.node_labels(defaults, multi.node("m-node4")) == {  # the host's win, label by label
        "topology.kubernetes.io/region": "homelab",
        "topology.kubernetes.io/zone": "b",
    }
    sno = loaded.cluster("sno").post_install(defaults)
    assert sno.node_labels == {"topology.kubernetes.io/region": "homelab", "tier": "lab"} and sno.backup is not None
