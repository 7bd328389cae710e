"""Render install-config.yaml and agent-config.yaml from a context with Jinja2."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxshift.config.install_dir import MANIFEST_NAMES
from proxshift.errors import UserInputError
from proxshift.manifests.context import ManifestContext
from proxshift.manifests.jinja import template_environment


@dataclass(frozen=True)
class RenderedManifests:
    """The manifest texts; they contain secrets, so they are written 0600 and never printed."""

    install_config: str
    agent_config: str

    def items(self) -> tuple[tuple[str, str], ...]:
        return tuple(zip(MANIFEST_NAMES, (self.install_config, self.agent_config), strict=True))


def render(context: ManifestContext, override_dir: Path | None) -> RenderedManifests:
    env = template_environment(override_dir)
    texts = [
        render_one(env, name, values, override_dir)
        for name, values in zip(MANIFEST_NAMES, (context.install, context.agent), strict=True)
    ]
    return RenderedManifests(*texts)


def render_one(env: Any, name: str, values: dict[str, Any], override_dir: Path | None) -> str:
    """One manifest's template (a user's override first) with its values; template faults as user errors."""
    import jinja2

    try:
        return str(env.get_template(f"{name}.j2").render(**values))
    except jinja2.UndefinedError as exc:
        source = _template_source(name, override_dir)
        raise UserInputError(f"{source}: {exc.message}", "use only the values listed in docs/manifests.md") from None
    except jinja2.TemplateSyntaxError as exc:
        raise UserInputError(f"{exc.filename or name}:{exc.lineno}: {exc.message}", "fix the template syntax") from None


def _template_source(name: str, override_dir: Path | None) -> str:
    if override_dir is not None and (override_dir / f"{name}.j2").is_file():
        return str(override_dir / f"{name}.j2")
    return f"packaged template {name}.j2"
