"""`provision`'s options: every option with a fixed set of values is a choice, anything else exit 2 at once."""

from __future__ import annotations

import pytest

from proxshift.engine.phases.flow import names
from tests.conftest import CliRunner, ProjectFiles


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--acm-mode", "foo"), "Invalid value for '--acm-mode': 'foo' is not one of 'auto', 'manual'."),
        (("--from", "vm"), "Invalid value for '--from': 'vm' is not a phase; the phases: " + ", ".join(names())),
        (("--only", "ISO"), "Invalid value for '--only': 'ISO' is not a phase"),
        (("--skip", "acm", "--skip", "wiat"), "Invalid value for '--skip': 'wiat' is not a phase"),
        (("--poll-interval", "0"), "Invalid value for '--poll-interval'"),
    ],
)
def test_a_value_outside_the_choices_is_exit_2_before_anything_runs(
    project: ProjectFiles, cli: CliRunner, argv: tuple[str, ...], message: str
) -> None:
    root = project.write()
    result = cli("--root", root, "provision", "sno", *argv)
    assert result.code == 2
    assert message in result.out + result.err
    assert not (root / "ocp_install").exists()


def test_the_help_lists_the_phases_and_the_modes(cli: CliRunner) -> None:
    shown = cli("provision", "-h").out
    assert "preflight, secrets, manifests" in " ".join(shown.split())
    assert "<auto|manual>" in shown and "--hub-kubeconfig" in shown and "--yes" in shown
