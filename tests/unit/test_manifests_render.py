"""manifests/render.py: Vault values land in the manifests as YAML that reads back to exactly the value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from proxshift.config.paths import discover_paths
from proxshift.config.project import Project, load_project
from proxshift.manifests.context import build_context
from proxshift.manifests.render import RenderedManifests, render
from proxshift.secret import InstallSecrets, Secret
from tests.conftest import PREDECESSOR

# Text a pull secret or an SSH key comment may hold that YAML would otherwise read as syntax.
AWKWARD = [
    '{"auths":{"quay.io":{"auth":"dXNlcjpwYXNz","email":"a@b"}}}',
    "it's \"quoted\" both 'ways'",
    "key: value",
    "a: b: c",
    "# not a comment",
    "value # not a comment either",
    "{{ not_jinja }} {% raw %}",
    "*alias",
    "&anchor value",
    "!tag value",
    "- a list? no",
    "? complex key",
    "| literal",
    "> folded",
    "@reserved `backtick`",
    "%directive",
    "yes",
    "null",
    "~",
    "0x1F",
    "52:54:00:12:34:56",
    "  leading and trailing spaces  ",
    "line one\nline two\n",
    "trailing newline\n",
    "tab\tinside",
    "\\backslash\\n",
    "ünïcödé ✓ 🚀",
    "\u2028line separator\x85next line",
    "ssh-ed25519 AAAA first 🚀\nssh-ed25519 AAAA second",
    "",
]


@pytest.fixture(scope="module")
def project() -> Project:
    paths = discover_paths(Path("/nonexistent"), PREDECESSOR / "site-config.yaml", PREDECESSOR / "clusters.yml")
    return load_project(paths)


def _render(project: Project, cluster: str, secrets: InstallSecrets) -> RenderedManifests:
    context = build_context(project.cluster(cluster), project.settings, secrets, project.inventory.file)
    return render(context, None)


@pytest.mark.parametrize("value", AWKWARD)
def test_pull_secret_and_ssh_key_read_back_exactly(project: Project, value: str) -> None:
    secrets = InstallSecrets(Secret(value), Secret(value[::-1]))
    install = yaml.safe_load(_render(project, "ocp-sno1", secrets).install_config)
    assert install["pullSecret"] == value
    assert install["sshKey"] == value[::-1]


@pytest.mark.parametrize("value", AWKWARD)
def test_values_read_back_exactly_in_a_multi_node_cluster(project: Project, value: str) -> None:
    secrets = InstallSecrets(Secret(value), Secret("ssh-ed25519 AAAA " + value))
    install = yaml.safe_load(_render(project, "ocp", secrets).install_config)
    assert (install["pullSecret"], install["sshKey"]) == (value, "ssh-ed25519 AAAA " + value)


CA_BUNDLES = [
    "-----BEGIN CERTIFICATE-----\nMIIB+/=\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n\n-----BEGIN CERTIFICATE-----\nBBB\n"
    "-----END CERTIFICATE-----",
    "Subject: CN=x # y\n{{ z }}: *a &b\n'quoted' \"both\"\n  indented line\n-----END CERTIFICATE-----\n\n\n",
]


@pytest.mark.parametrize("bundle", CA_BUNDLES)
def test_ca_bundle_reads_back_as_one_block_ending_in_one_newline(project: Project, bundle: str) -> None:
    secrets = InstallSecrets(Secret("{}"), Secret("k"), Secret(bundle))
    install = yaml.safe_load(_render(project, "ocp-sno1", secrets).install_config)
    assert install["additionalTrustBundle"] == bundle.rstrip("\n") + "\n"
    assert install["pullSecret"] == "{}"  # the keys after the block are still read as keys


def test_the_rest_of_the_manifest_is_untouched_by_a_value(project: Project) -> None:
    plain = yaml.safe_load(_render(project, "ocp-sno1", InstallSecrets(Secret("p"), Secret("k"))).install_config)
    for value in AWKWARD:
        awkward = yaml.safe_load(
            _render(project, "ocp-sno1", InstallSecrets(Secret(value), Secret(value))).install_config
        )
        assert {k: v for k, v in awkward.items() if k not in ("pullSecret", "sshKey")} == {
            k: v for k, v in plain.items() if k not in ("pullSecret", "sshKey")
        }
