"""Every --json output parses and matches the schema docs/json.md gives it; every --json option has a section."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import REPO, CliRunner, ProjectFiles

HEADING = re.compile(r"^## `proxshift (.+?)`$", re.MULTILINE)


def schemas() -> dict[str, dict[str, Any]]:
    """docs/json.md: each `## \\`proxshift ...\\`` heading and the JSON Schema in the first json block after it."""
    text = (REPO / "docs" / "json.md").read_text()
    found = {}
    for match in HEADING.finditer(text):
        block = text[match.end() :].split("```json\n", 1)[1].split("\n```", 1)[0]
        found[match.group(1)] = json.loads(block)
    return found


def check(heading: str, output: str) -> Any:
    """The output as data, validated against the schema of its section."""
    data = json.loads(output)
    jsonschema.validate(data, schemas()[heading])
    return data


def _command_words(heading: str) -> str:
    return " ".join(word for word in heading.split() if re.fullmatch(r"[a-z]+", word))


def test_every_json_option_has_a_documented_schema() -> None:
    import typer

    from proxshift.cli import app

    root = typer.main.get_command(app)
    with_json = set()
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        for sub_name, sub in getattr(command, "commands", {name: command}).items():
            words = name if sub is command else f"{name} {sub_name}"
            if any("--json" in getattr(p, "opts", []) for p in sub.params):
                with_json.add(words)
    documented = {_command_words(heading) for heading in schemas()}
    assert with_json == documented, "docs/json.md: one section per command with --json"


def test_listing_and_show(cli: CliRunner, predecessor_root: Path) -> None:
    listing = check("clusters --json", cli("--root", predecessor_root, "clusters", "--json").out)
    assert [c["name"] for c in listing][:2] == ["ocp", "ocp3"]
    shown = check("show <cluster> --json", cli("--root", predecessor_root, "show", "ocp-sno1", "--json").out)
    assert shown["hosts"][0]["memory_mb"] == 40960


def test_validate_reports_the_problems_as_data(cli: CliRunner, project: ProjectFiles) -> None:
    ok = cli("--root", project.write(), "validate", "--json")
    assert ok.code == 0, ok.err
    assert check("validate --json", ok.out)["valid"] is True
    project.host("sno", "sno-node1")["memory"] = "lots"
    project.host("multi", "m-node1")["cores"] = -2
    bad = cli("--root", project.write(), "validate", "--json")
    assert bad.code == 2
    verdict = check("validate --json", bad.out)
    assert verdict["valid"] is False and verdict["errors"] == len(verdict["problems"]) >= 2
    assert {p["file"] for p in verdict["problems"]} == {"inventory/clusters.yml"}
    assert all(p["line"] for p in verdict["problems"])
    assert any("memory" in p["location"] for p in verdict["problems"])


@pytest.mark.parametrize("strict", [False, True])
def test_validate_counts_warnings_as_validate_does(cli: CliRunner, predecessor_root: Path, strict: bool) -> None:
    args = ["--root", predecessor_root, "validate", "--json", *(["--strict"] if strict else [])]
    result = cli(*args)
    verdict = check("validate --json", result.out)
    if strict:
        assert result.code == 2 and verdict["errors"] > 0 and verdict["warnings"] == 0
    else:
        text = cli("--root", predecessor_root, "validate")
        assert f"({verdict['warnings']} warnings)" in text.err


def test_lab_status_when_the_lab_is_down(cli: CliRunner, predecessor_root: Path) -> None:
    result = cli("--root", predecessor_root, "lab", "status", "--json")
    assert result.code == 1
    assert check("lab status --json", result.out) == {"up": False, "pid": None, "services": [], "knobs": None}


def test_provision_events_match_their_schema() -> None:
    import io

    from proxshift.cli.render.jsonl import JsonRenderer
    from tests.cli.test_render import SAMPLES

    stream = io.StringIO()
    render = JsonRenderer(stream)
    for event in SAMPLES.values():
        render(event)
    for line in stream.getvalue().splitlines():
        check("provision <cluster>... --json", line)
