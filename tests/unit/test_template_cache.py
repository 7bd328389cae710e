"""manifests/jinja.py's bytecode cache: a template is compiled once, again when it changes; private, no values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from proxshift.manifests.jinja import template_environment

SECRET = "pull-secret-value-0f3c"


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "proxshift" / "templates"


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The templates Jinja compiled from source (the real compiler still runs)."""
    seen: list[str] = []
    real = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: Any, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(name))
        return real(self, source, name, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return seen


def _render(override: Path, **values: Any) -> str:
    return str(template_environment(override).get_template("x.yaml.j2").render(**values))


def test_a_template_is_compiled_once_and_again_when_it_changes(
    cache: Path, compiles: list[str], tmp_path: Path
) -> None:
    override = tmp_path / "templates"
    override.mkdir()
    (override / "x.yaml.j2").write_text("secret: {{ secret | yaml_string }}\n")
    assert _render(override, secret=SECRET) == f"secret: '{SECRET}'\n"
    assert _render(override, secret="other") == "secret: 'other'\n"
    assert compiles == ["x.yaml.j2"]
    (override / "x.yaml.j2").write_text("changed: {{ secret | yaml_string }}\n")
    assert _render(override, secret=SECRET) == f"changed: '{SECRET}'\n"
    assert compiles == ["x.yaml.j2", "x.yaml.j2"]


def test_the_cache_is_private_and_holds_no_rendered_value(cache: Path, tmp_path: Path) -> None:
    override = tmp_path / "templates"
    override.mkdir()
    (override / "x.yaml.j2").write_text("secret: {{ secret | yaml_string }}\n")
    _render(override, secret=SECRET)
    assert cache.stat().st_mode & 0o777 == 0o700
    entries = list(cache.iterdir())
    assert entries
    for entry in entries:
        assert entry.stat().st_mode & 0o777 == 0o600
        assert SECRET.encode() not in entry.read_bytes()


def test_a_shared_or_broken_cache_only_costs_the_compile(cache: Path, compiles: list[str], tmp_path: Path) -> None:
    override = tmp_path / "templates"
    override.mkdir()
    (override / "x.yaml.j2").write_text("a: {{ value }}\n")
    _render(override, value=1)
    for entry in cache.iterdir():
        entry.write_bytes(entry.read_bytes()[:20])  # cut short
    assert _render(override, value=2) == "a: 2\n"
    cache.chmod(0o755)  # others may enter: neither read nor written
    for entry in cache.iterdir():
        entry.unlink()
    assert _render(override, value=3) == "a: 3\n"
    assert list(cache.iterdir()) == []
    assert len(compiles) == 3
