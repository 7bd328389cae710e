"""manifests/check.py: the documented verdict on every file of shared/schemas/examples, secrets unquoted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from proxshift.manifests.check import check_files, schema_findings
from tests.conftest import FIXTURES

EXAMPLES = FIXTURES / "schema-examples"
VALID_PAIRS = [("sno-none", "sno"), ("sno-none.crd-compatible", "sno"), ("baremetal-3m2w", "baremetal-3m2w")]


def _expected_failures() -> dict[str, str]:
    """From examples/README.md: file -> the AGENT / AC verdict column."""
    verdicts = {}
    for line in (EXAMPLES / "README.md").read_text().splitlines():
        cells = [c.strip().strip("*") for c in line.split("|")]
        if len(cells) > 5 and cells[1].endswith(".yaml"):
            verdict = cells[3] if "install-config" in cells[1] else cells[4]
            verdicts[cells[1]] = verdict
    return verdicts


VERDICTS = _expected_failures()


def test_matrix_covers_every_example() -> None:
    files = {f"{p.parent.name}/{p.name}" for p in EXAMPLES.glob("*/*.yaml")}
    assert files == set(VERDICTS)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_schema_verdict_matches_the_matrix(name: str) -> None:
    path = EXAMPLES / name
    manifest = "install-config.yaml" if "install-config" in name else "agent-config.yaml"
    problems = schema_findings(manifest, yaml.safe_load(path.read_text()), {})
    assert ("FAIL" if problems else "PASS") == VERDICTS[name], [p.message for p in problems]


@pytest.mark.parametrize(("install", "agent"), VALID_PAIRS)
def test_valid_pairs_pass_every_rule(install: str, agent: str) -> None:
    problems = check_files(
        (EXAMPLES / "valid" / f"{install}.install-config.yaml").read_text(),
        (EXAMPLES / "valid" / f"{agent}.agent-config.yaml").read_text(),
    )
    assert [p.render() for p in problems] == []


def test_secret_rules_fire_without_quoting_the_secret() -> None:
    install_text = (EXAMPLES / "valid" / "sno-none.install-config.yaml").read_text()
    agent_text = (EXAMPLES / "valid" / "sno.agent-config.yaml").read_text()
    broken = re.sub(r"pullSecret: .*", 'pullSecret: \'{"auths": {"quay.io": {"email": "x@y"}}}\'', install_text)
    problems = check_files(broken, agent_text)
    assert any("pull secret format" in p.message for p in problems)
    assert all("x@y" not in p.message for p in problems)
    broken = re.sub(r"sshKey: .*", "sshKey: 'ssh-rsa AAAAB3NzaC1lZDI1NTE5AAAAIFkU x'", install_text)
    assert any("SSH key format" in p.message for p in check_files(broken, agent_text))


def test_example_fixtures_match_shared(request: pytest.FixtureRequest) -> None:
    """The copy under tests/fixtures stays identical to ../shared/schemas/examples when it is there."""
    shared = Path(request.config.rootpath).parent / "shared" / "schemas" / "examples"
    if not shared.is_dir():
        pytest.skip(
            "compares tests/fixtures/schema-examples with the design workspace's shared/schemas/examples, "
            "which is not beside this checkout (put the workspace's shared/ next to it to run this)"
        )
    for path in shared.rglob("*.yaml"):
        assert (EXAMPLES / path.relative_to(shared)).read_text() == path.read_text()
