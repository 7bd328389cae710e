"""config/post_install.py: post_install, hooks and node labels, from the site config and the inventory."""

from __future__ import annotations

import pytest

from proxshift.config.paths import discover_paths
from proxshift.config.post_install import PHASE_NAMES, Hooks, fill, label_problems
from proxshift.config.project import Project, load_project
from proxshift.engine.phases.flow import names
from proxshift.engine.state import cluster_fingerprint
from proxshift.errors import InvalidInput, Problem
from tests.conftest import CliRunner, ProjectFiles


def _load(project: ProjectFiles) -> Project:
    return load_project(discover_paths(project.write()))


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
