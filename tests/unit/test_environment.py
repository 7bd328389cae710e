"""config/environment.py lists every variable src reads, and the tests run without any of them."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from proxshift.config.environment import CLEARED, INHERITED, LIBRARIES, SETTINGS

SRC = Path(__file__).resolve().parents[2] / "src" / "proxshift"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
LISTED = {v.name for v in SETTINGS + LIBRARIES + INHERITED}


def _is_environment(node: ast.expr) -> bool:
    """os.environ, environ, or a mapping parameter named env (vault_access(env=...), credentials_from_env)."""
    text = ast.unparse(node)
    return text in ("env", "environ") or text.endswith(".environ")


def _name_read(node: ast.AST) -> ast.expr | None:
    """The name argument when node reads the environment: env.get(X), env[X], getenv(X), X in env."""
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("get", "pop") and _is_environment(func.value):
            return node.args[0]
        if ast.unparse(func) in ("os.getenv", "getenv"):
            return node.args[0]
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environment(node.value):
        return node.slice
    if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
        return node.left if _is_environment(node.comparators[0]) else None
    return None


def environment_reads(src: Path = SRC) -> dict[str, list[str]]:
    """Variable (or `<computed>`) -> the places in src that read it."""
    reads: dict[str, list[str]] = {}
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            name = _name_read(node)
            if name is None:
                continue
            key = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else "<computed>"
            reads.setdefault(key, []).append(f"{path.relative_to(src.parent)}:{node.lineno}")
    return reads


def test_every_variable_src_reads_is_listed() -> None:
    unlisted = {name: places for name, places in environment_reads().items() if name not in LISTED}
    assert not unlisted, "add these to proxshift/config/environment.py, with the reason they are read:\n" + "\n".join(
        f"{name}: {', '.join(places)}" for name, places in sorted(unlisted.items())
    )


def test_every_listed_setting_is_read() -> None:
    stale = {v.name for v in SETTINGS} - set(environment_reads())
    assert not stale, f"no longer read by src, remove from SETTINGS: {sorted(stale)}"


def test_the_scan_finds_each_way_of_reading(tmp_path: Path) -> None:
    package = tmp_path / "proxshift"
    package.mkdir()
    (package / "m.py").write_text(
        "import os\n"
        "a = os.environ.get('A')\n"
        "b = os.environ['B']\n"
        "c = os.getenv('C')\n"
        "d = 'D' in os.environ\n"
        "def f(env):\n"
        "    return env.get('E'), env['F'], env.get(name)\n"
        "os.environ['G'] = 'written, not read'\n"
        "os.environ.setdefault('H', 'set for a library')\n"
    )
    assert environment_reads(package) == {
        "A": ["proxshift/m.py:2"],
        "B": ["proxshift/m.py:3"],
        "C": ["proxshift/m.py:4"],
        "D": ["proxshift/m.py:5"],
        "E": ["proxshift/m.py:7"],
        "F": ["proxshift/m.py:7"],
        "<computed>": ["proxshift/m.py:7"],
    }


def test_each_variable_once_with_a_one_line_reason() -> None:
    names = [v.name for v in SETTINGS + LIBRARIES + INHERITED]
    assert len(names) == len(set(names))
    assert all(v.reason and "\n" not in v.reason for v in SETTINGS + LIBRARIES + INHERITED)


@pytest.mark.parametrize("name", CLEARED)
def test_tests_run_without_it(name: str) -> None:
    assert name not in os.environ


def test_tests_have_their_own_home(isolated_env: Path) -> None:
    assert os.environ["HOME"] == str(isolated_env)
    assert Path.home() == isolated_env


@pytest.mark.parametrize("name", [v.name for v in SETTINGS if v.name.startswith(("PROXSHIFT_", "VAULT_"))])
def test_proxshift_and_vault_variables_are_documented(name: str) -> None:
    assert f"`{name}`" in DOCS.read_text()
