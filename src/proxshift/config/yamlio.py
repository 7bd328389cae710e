"""YAML reading that cannot silently corrupt MACs and WWNs, and keeps line numbers."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from proxshift.errors import InvalidInput, Problem, UserInputError

# YAML 1.1 turns an unquoted 52:54:00:12:34:56 into a base-60 integer and 0x5000c5...
# into an int. Only plain decimal numbers are numbers here (as in YAML 1.2's core schema,
# minus hex/octal, which in an inventory are always MACs, WWNs or IDs meant as text).
_DECIMAL_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_DECIMAL_FLOAT = re.compile(r"^[-+]?([0-9][0-9_]*)?\.[0-9_]+([eE][-+]?[0-9]+)?$")


# libyaml's parser is ~10x faster than the pure-Python one; the resolver stays ours either way.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InventoryLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.1 booleans (Ansible users write `yes`) but decimal-only numbers."""


InventoryLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
InventoryLoader.add_implicit_resolver("tag:yaml.org,2002:int", _DECIMAL_INT, list("-+0123456789"))
InventoryLoader.add_implicit_resolver("tag:yaml.org,2002:float", _DECIMAL_FLOAT, list("-+0123456789."))


def _int_constructor(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    return int(str(value).replace("_", ""))


InventoryLoader.add_constructor("tag:yaml.org,2002:int", _int_constructor)

LineMap = dict[tuple[str, ...], int]

# An inventory of 50 clusters is a few thousand nodes; a "billion laughs" document is billions once its
# aliases are followed. Everything downstream (line numbers, validation) follows them, so stop here.
MAX_EXPANDED_NODES = 200_000
_MERGE_KEY = "<<"


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes the document has once every alias is followed, without following them twice."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a node reached again while being sized (a recursive alias) counts once
    if isinstance(node, yaml.MappingNode):
        total = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_expanded_size(item, sizes) for item in node.value)
    else:
        total = 1
    sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
    return sizes[id(node)]


def _duplicate_keys(node: yaml.Node, shown: str) -> list[Problem]:
    """Every key written twice in one mapping, at any depth; each node is visited once (aliases share)."""
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(node, ())]
    while stack:
        current, path = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in current.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key != _MERGE_KEY and isinstance(key_node, yaml.ScalarNode):
                    if key in first:
                        problems.append(
                            Problem(
                                shown,
                                ".".join((*path, key)),
                                f"the key '{key}' is written twice (lines {first[key]} and {line}); "
                                "YAML would silently keep only the last one",
                                "remove or rename one of them",
                                line=line,
                            )
                        )
                    else:
                        first[key] = line
                stack.append((value_node, (*path, key)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, (*path, str(index))) for index, item in enumerate(current.value))
    return sorted(problems, key=lambda p: p.line or 0)


def _collect_lines(node: yaml.Node, path: tuple[str, ...], lines: LineMap) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _collect_lines(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*path, str(index)), lines)


def _read_text(path: Path, shown: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        where = f"{shown} ({path.absolute()})" if shown != str(path.absolute()) else shown
        raise UserInputError(
            f"{where}: file not found",
            "run proxshift inside the project (or below it), or pass --root / --inventory / --config",
        ) from None
    except IsADirectoryError:
        raise UserInputError(f"{shown}: is a directory, not a YAML file", "point at the file itself") from None
    except OSError as exc:
        raise UserInputError(f"{shown}: cannot be read ({exc.strerror})", "check the file's permissions") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserInputError(
            f"{shown}:{line}: is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            "save the file as UTF-8",
        ) from None


def load_yaml(path: Path, label: str | None = None) -> tuple[Any, LineMap]:
    """Load one YAML document; return the data and a map from key paths to line numbers."""
    shown = label or str(path)
    return parse_yaml(_read_text(path, shown), shown)


class YamlSyntaxError(UserInputError):
    """Text that is not YAML, with the line where the parser gave up."""

    def __init__(self, shown: str, line: int | None, problem: str, hint: str) -> None:
        where = f"{shown}:{line}" if line else shown
        super().__init__(f"{where}: is not valid YAML: {problem}", hint)
        self.file, self.line, self.problem = shown, line, f"is not valid YAML: {problem}"


def parse_yaml(text: str, shown: str) -> tuple[Any, LineMap]:
    """One YAML document from text: duplicate keys and alias bombs are refused before anything reads it."""
    loader = InventoryLoader(text)
    try:
        with _refusals(shown):
            node = loader.get_single_node()
            if node is None:
                return None, {}
            return _construct(loader, node, shown)
    finally:
        loader.dispose()


def parse_yaml_documents(text: str, shown: str) -> list[tuple[Any, int]]:
    """Every document of a `---`-separated text, each with its first line; refused as `parse_yaml` refuses."""
    loader = InventoryLoader(text)
    documents = []
    try:
        with _refusals(shown):
            while loader.check_node():
                node = loader.get_node()
                if node is not None:
                    documents.append((_construct(loader, node, shown)[0], node.start_mark.line + 1))
    finally:
        loader.dispose()
    return documents


def _construct(loader: InventoryLoader, node: yaml.Node, shown: str) -> tuple[Any, LineMap]:
    if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
        raise UserInputError(
            f"{shown}: its aliases (*name) expand to more than {MAX_EXPANDED_NODES:,} values",
            "this is not an inventory a person writes (a YAML alias bomb?); use fewer nested aliases",
        )
    duplicates = _duplicate_keys(node, shown)
    if duplicates:
        raise InvalidInput(duplicates)
    lines: LineMap = {}
    _collect_lines(node, (), lines)
    return loader.construct_document(node), lines


@contextlib.contextmanager
def _refusals(shown: str) -> Iterator[None]:
    """The parser's complaints as proxshift's errors, with the line."""
    try:
        yield
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise YamlSyntaxError(
            shown, line, str(exc.problem), "correct the YAML syntax there; yamllint shows the exact spot"
        ) from None
    except yaml.YAMLError as exc:
        raise UserInputError(f"{shown}: is not valid YAML: {exc}", "correct the YAML syntax") from None
    except RecursionError:
        raise UserInputError(f"{shown}: is nested too deeply to read", "flatten the structure") from None
