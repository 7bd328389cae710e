"""Check rendered manifests as the installer would: YAML, JSON Schemas, then the cross-field rules.

Each finding becomes a Problem pinned to the inventory or site-config place that caused it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from proxshift.config.install_dir import MANIFEST_NAMES
from proxshift.errors import InvalidInput, Problem
from proxshift.manifests.context import ManifestContext, Origin, origin_key
from proxshift.manifests.render import RenderedManifests
from proxshift.manifests.rules import Finding, check_data, error
from proxshift.manifests.secret_rules import secret_findings

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_FILES = dict(zip(MANIFEST_NAMES, ("install-config.agent.schema.json", "agent-config.schema.json"), strict=True))
# Schema messages quote the failing value; for these the value is a secret.
SECRET_POINTERS = ("pullSecret", "sshKey", "additionalTrustBundle")


@cache
def _validator(manifest: str) -> Any:
    import jsonschema

    schema = json.loads((SCHEMAS / SCHEMA_FILES[manifest]).read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def to_problem(finding: Finding, origins: Mapping[str, Origin]) -> Problem:
    """Name the closest place a user would edit; the manifest and pointer stay in the message."""
    key = origin_key(finding.manifest, finding.pointer)
    while key not in origins and "/" in key:
        key = key.rsplit("/", 1)[0]
    origin = origins.get(key)
    where = f"{finding.manifest}: {finding.pointer or '(top)'}: {finding.message} [{finding.rule}]"
    if origin is None:
        return Problem(finding.manifest, "", where, finding.fix, finding.severity)
    return Problem(origin.file, origin.location, where, finding.fix, finding.severity)


def schema_findings(manifest: str, data: Any, origins: Mapping[str, Origin]) -> list[Problem]:
    """Every schema violation; messages never quote the pull secret or SSH key values."""
    problems = []
    for failure in sorted(_validator(manifest).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        pointer = "/".join(str(p) for p in failure.absolute_path)
        message = failure.message
        if any(secret in pointer for secret in SECRET_POINTERS):
            message = f"fails the schema ({failure.validator})"
        finding = error(manifest, pointer, message, f"schema: {failure.validator}", "see docs/manifests.md")
        problems.append(to_problem(finding, origins))
    return problems


def checked_schema_findings(manifest: str, text: str, data: Any, origins: Mapping[str, Origin]) -> list[Problem]:
    """`schema_findings` of the parsed `text`, unless this very text already passed this very schema
    (manifests/schema_cache.py: a re-render then imports no jsonschema); a pass is recorded."""
    from proxshift.manifests import schema_cache

    key = schema_cache.schema_key(manifest, text, SCHEMAS / SCHEMA_FILES[manifest])
    if schema_cache.passed(key):
        return []
    problems = schema_findings(manifest, data, origins)
    if not problems:
        schema_cache.record_pass(key)
    return problems


def check_manifests(
    rendered: RenderedManifests, origins: Mapping[str, Origin], secrets_are_real: bool
) -> list[Problem]:
    import yaml

    # libyaml's parser where PyYAML has it (~10x faster); the safe constructor and resolver either way.
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    for name, text in rendered.items():
        try:
            parsed[name] = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark else ""
            finding = error(name, "", f"is not valid YAML{line}", "YAML", "check the template")
            problems.append(to_problem(finding, origins))
            continue
        problems += checked_schema_findings(name, text, parsed[name], origins)
    if len(parsed) == len(MANIFEST_NAMES):
        install, agent = (parsed[name] for name in MANIFEST_NAMES)
        findings = list(check_data(install, agent))
        if secrets_are_real:
            findings += secret_findings(install)
        problems += [to_problem(f, origins) for f in findings]
    return problems


def check(rendered: RenderedManifests, context: ManifestContext, secrets_are_real: bool) -> list[Problem]:
    """Schema and installer rules; each problem points at the inventory place that caused it."""
    return check_manifests(rendered, context.origins, secrets_are_real)


def check_files(install_text: str, agent_text: str) -> list[Problem]:
    """Check manifests that did not come from an inventory (tests, `examples/`)."""
    return check_manifests(RenderedManifests(install_text, agent_text), {}, secrets_are_real=True)


def require_valid(problems: list[Problem]) -> None:
    if any(p.is_error for p in problems):
        raise InvalidInput(problems)
