"""The layer rule of DESIGN.md, checked on every import in src/proxshift: lazy ones and TYPE_CHECKING ones too.

config and manifests import no client, engine, cli or lab; a client imports no other client (transport
and kube are shared foundations), nor engine, cli or lab; engine imports no cli or lab; only
cli/lab_cmds.py imports lab; and no two modules import each other, however indirectly.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "proxshift"
LAYERS = ("config", "manifests", "clients", "engine", "cli", "lab")
SHARED_CLIENTS = frozenset({"transport", "kube"})
LAB_ENTRY = "proxshift.cli.lab_cmds"

CONFIG_RULE = "config imports no manifests, clients, engine, cli or lab"
MANIFESTS_RULE = "manifests imports no clients, engine, cli or lab"
FOUNDATION_RULE = "errors, secret and files import no layer package"
CLIENT_CLIENT_RULE = "a client imports no other client (only clients.transport and clients.kube are shared)"
CLIENT_UP_RULE = "a client imports no engine, cli or lab"
ENGINE_RULE = "engine imports no cli or lab"
LAB_RULE = "no product module imports lab, except cli/lab_cmds.py"
CYCLE_RULE = "no import cycles"

# Known violations, each (importer, imported, rule), outside this test's author's area: issue 10's
# other work removes them, and the lead empties this set as it lands. An entry that no longer
# happens fails test_allowed_violations_still_happen, so the set cannot go stale.
ALLOWED: frozenset[tuple[str, str, str]] = frozenset(
    {
        # A known cycle is allowed by naming one of its imports, e.g.
        # ("proxshift.cli.app", "proxshift.cli.commands", CYCLE_RULE): cycles through it go unreported.
    }
)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


@dataclass(frozen=True)
class Violation:
    importer: str
    line: int
    imported: str
    rule: str
    cycle: tuple[str, ...] = field(default=())

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.importer, self.imported, self.rule)

    def __str__(self) -> str:
        where = f"src/{self.importer.replace('.', '/')}.py:{self.line}"
        text = f"{where}: imports {self.imported}: breaks the rule '{self.rule}'"
        return f"{text} ({' -> '.join(self.cycle)})" if self.cycle else text


Graph = Mapping[str, list[Import]]


# -- reading the imports --------------------------------------------------------------------------


def module_names(src: Path) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package) for every module under src/proxshift."""
    modules = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def imports_of(module: str, is_package: bool, source: str, known: Iterable[str]) -> list[Import]:
    """Every import of a proxshift module anywhere in the source: top level, functions, TYPE_CHECKING."""
    known = set(known)
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from proxshift.cli import acm_cmds` imports the module proxshift.cli.acm_cmds.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in dict.fromkeys(targets):
            if target == PACKAGE or target.startswith(f"{PACKAGE}."):
                found.append(Import(module, target, node.lineno))
    return found


def module_graph(src: Path = SRC) -> dict[str, list[Import]]:
    modules = module_names(src)
    return {
        name: imports_of(name, is_package, path.read_text(), modules) for name, (path, is_package) in modules.items()
    }


# -- the rules ------------------------------------------------------------------------------------


def layer_of(module: str) -> str:
    """config, manifests, clients, engine, cli or lab; "" for proxshift's top-level modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""


def client_of(module: str) -> str | None:
    """`X` for the module clients/X.py or any module of the package clients/X/."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "clients" else None


def broken_rule(importer: str, imported: str) -> str | None:  # noqa: PLR0911 - one return per rule, in the order the docs list them
    """The first rule the import breaks, or None."""
    source, target = layer_of(importer), layer_of(imported)
    if source == "config" and target in ("manifests", "clients", "engine", "cli", "lab"):
        return CONFIG_RULE
    if source == "manifests" and target in ("clients", "engine", "cli", "lab"):
        return MANIFESTS_RULE
    if source == "" and importer != PACKAGE and target:
        return FOUNDATION_RULE
    if source == "clients":
        other = client_of(imported)
        if other is not None and other != client_of(importer) and other not in SHARED_CLIENTS:
            return CLIENT_CLIENT_RULE
        if target in ("engine", "cli", "lab"):
            return CLIENT_UP_RULE
    if source == "engine" and target in ("cli", "lab"):
        return ENGINE_RULE
    if target == "lab" and source != "lab" and importer != LAB_ENTRY:
        return LAB_RULE
    return None


def layer_violations(graph: Graph) -> list[Violation]:
    violations = []
    for imports in graph.values():
        for imp in imports:
            rule = broken_rule(imp.importer, imp.imported)
            if rule is not None:
                violations.append(Violation(imp.importer, imp.line, imp.imported, rule))
    return violations


def _edges(graph: Graph, skip: frozenset[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """importer -> {imported: first line}, only between modules of the graph, minus `skip`."""
    edges: dict[str, dict[str, int]] = {name: {} for name in graph}
    for name, imports in graph.items():
        for imp in imports:
            if imp.imported in graph and imp.imported != name and (name, imp.imported) not in skip:
                edges[name].setdefault(imp.imported, imp.line)
    return edges


def _path(edges: Mapping[str, Mapping[str, int]], start: str, goal: str) -> list[str] | None:
    """The shortest import path from start to goal (breadth first, in name order), or None."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges[node]):
                if nxt == goal:
                    path = [goal, node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return path[::-1]
                if nxt not in came_from and nxt != start:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    return None


def cycle_violations(graph: Graph, allowed_edges: frozenset[tuple[str, str]] = frozenset()) -> list[Violation]:
    """A cycle for each group of modules that import each other, named by its path (shortest first)."""
    edges = _edges(graph, allowed_edges)
    violations: list[Violation] = []
    reported: set[frozenset[str]] = set()
    for start in sorted(edges):
        path = _path(edges, start, start)
        if path is None or frozenset(path) in reported or min(path) != start:
            continue
        reported.add(frozenset(path))
        violations.append(Violation(path[0], edges[path[0]][path[1]], path[1], CYCLE_RULE, tuple(path)))
    return violations


def check_layers(graph: Graph, allowed: frozenset[tuple[str, str, str]] = frozenset()) -> list[Violation]:
    """Every violation not in `allowed`; an allowed cycle edge is left out of the cycle search."""
    cycle_edges = frozenset((a, b) for a, b, rule in allowed if rule == CYCLE_RULE)
    found = layer_violations(graph) + cycle_violations(graph, cycle_edges)
    return [v for v in found if v.key not in allowed]


# -- the tests ------------------------------------------------------------------------------------


def test_the_layers_hold() -> None:
    violations = check_layers(module_graph(), ALLOWED)
    if violations:
        pytest.fail("imports across the layers (DESIGN.md, Layout):\n" + "\n".join(map(str, violations)), False)


def test_allowed_violations_still_happen() -> None:
    """When a known violation is fixed, its ALLOWED entry must go too."""
    graph = module_graph()
    layer = {v.key for v in layer_violations(graph)}
    edges = _edges(graph, frozenset())
    stale = []
    for importer, imported, rule in sorted(ALLOWED):
        if rule == CYCLE_RULE:
            happens = imported in edges.get(importer, {}) and _path(edges, imported, importer) is not None
        else:
            happens = (importer, imported, rule) in layer
        if not happens:
            stale.append(f"{importer} -> {imported}: {rule}")
    assert not stale, "remove these from ALLOWED, they no longer happen:\n" + "\n".join(stale)


def test_every_module_is_read() -> None:
    graph = module_graph()
    assert len(graph) == len(list((SRC / PACKAGE).rglob("*.py")))
    assert {"proxshift", "proxshift.config", "proxshift.manifests.rules", "proxshift.clients.vault"} <= set(graph)
    assert [i.imported for i in graph["proxshift.config.paths"]] == ["proxshift.config.install_dir"]


def _graph(edges: Mapping[str, Iterable[str]]) -> dict[str, list[Import]]:
    """A synthetic module graph: each import on line 10 + its position."""
    return {
        module: [Import(module, imported, 10 + index) for index, imported in enumerate(targets)]
        for module, targets in edges.items()
    }


def test_imports_in_functions_and_type_checking_blocks_are_seen() -> None:
    source = """\
from typing import TYPE_CHECKING
from . import durations
if TYPE_CHECKING:
    from proxshift.engine.vms import plan

def later():
    import proxshift.cli.app
    from ..clients import vault
"""
    known = {"proxshift.config.durations", "proxshift.clients.vault"}
    found = imports_of("proxshift.config.paths", False, source, known)
    assert [(i.imported, i.line) for i in found] == [
        ("proxshift.config.durations", 2),
        ("proxshift.engine.vms", 4),
        ("proxshift.cli.app", 7),
        ("proxshift.clients.vault", 8),
    ]


@pytest.mark.parametrize(
    ("importer", "imported", "rule"),
    [
        ("proxshift.config.settings", "proxshift.clients.vault", CONFIG_RULE),
        ("proxshift.config.settings", "proxshift.manifests.render", CONFIG_RULE),
        ("proxshift.manifests.check", "proxshift.engine.vms", MANIFESTS_RULE),
        ("proxshift.secret", "proxshift.config.settings", FOUNDATION_RULE),
        ("proxshift.clients.vault", "proxshift.clients.proxmox", CLIENT_CLIENT_RULE),
        ("proxshift.clients.acm.hub", "proxshift.clients.install_watch", CLIENT_CLIENT_RULE),
        ("proxshift.clients.proxmox", "proxshift.engine.vmspec", CLIENT_UP_RULE),
        ("proxshift.clients.vault", "proxshift.cli.console", CLIENT_UP_RULE),
        ("proxshift.engine.provision", "proxshift.cli.console", ENGINE_RULE),
        ("proxshift.engine.provision", "proxshift.lab.lab", ENGINE_RULE),
        ("proxshift.cli.vm_cmds", "proxshift.lab.lab", LAB_RULE),
    ],
)
def test_the_checker_catches_each_rule(importer: str, imported: str, rule: str) -> None:
    (violation,) = check_layers(_graph({importer: [imported], imported: []}))
    assert (violation.importer, violation.imported, violation.rule, violation.line) == (importer, imported, rule, 10)
    assert str(violation).startswith(f"src/{importer.replace('.', '/')}.py:10: imports {imported}: breaks the rule")


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("proxshift.config.settings", "proxshift.errors"),
        ("proxshift.manifests.context", "proxshift.config.inventory"),
        ("proxshift.clients.vault", "proxshift.clients.transport"),
        ("proxshift.clients.acm", "proxshift.clients.kube"),
        ("proxshift.clients.acm.hub", "proxshift.clients.acm.objects"),
        ("proxshift.clients.acm", "proxshift.manifests.jinja"),
        ("proxshift.engine.vms", "proxshift.clients.proxmox"),
        ("proxshift.cli.lab_cmds", "proxshift.lab.lab"),
        ("proxshift.lab.lab", "proxshift.lab.openbao"),
        ("proxshift.cli.app", "proxshift"),
    ],
)
def test_the_checker_allows_what_the_layers_allow(importer: str, imported: str) -> None:
    assert check_layers(_graph({importer: [imported], imported: []})) == []


def test_the_checker_reports_a_cycle_with_its_path() -> None:
    graph = _graph(
        {
            "proxshift.engine.b": ["proxshift.engine.c"],
            "proxshift.engine.a": ["proxshift.errors", "proxshift.engine.b"],
            "proxshift.engine.c": ["proxshift.engine.a"],
            "proxshift.errors": [],
        }
    )
    (violation,) = check_layers(graph)
    assert violation.cycle == ("proxshift.engine.a", "proxshift.engine.b", "proxshift.engine.c", "proxshift.engine.a")
    assert str(violation) == (
        "src/proxshift/engine/a.py:11: imports proxshift.engine.b: breaks the rule 'no import cycles' "
        "(proxshift.engine.a -> proxshift.engine.b -> proxshift.engine.c -> proxshift.engine.a)"
    )
    allowed = frozenset({("proxshift.engine.c", "proxshift.engine.a", CYCLE_RULE)})
    assert check_layers(graph, allowed) == []


def test_allowed_layer_violations_are_exact() -> None:
    graph = _graph({"proxshift.clients.proxmox": ["proxshift.engine.vmspec", "proxshift.engine.vms"]})
    allowed = frozenset({("proxshift.clients.proxmox", "proxshift.engine.vmspec", CLIENT_UP_RULE)})
    assert [v.imported for v in check_layers(graph, allowed)] == ["proxshift.engine.vms"]
