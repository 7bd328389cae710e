"""YAML reading that cannot silently corrupt MACs and WWNs, and keeps line numbers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from proxshift.errors import UserInputError

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


def load_yaml(path: Path, label: str | None = None) -> tuple[Any, LineMap]:
    """Load one YAML document; return the data and a map from key paths to line numbers."""
    shown = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(
            f"{shown}: file not found", "check the path, or pass --root / --inventory / --config"
        ) from None
    except OSError as exc:
        raise UserInputError(f"{shown}: cannot be read ({exc.strerror})", "check the file's permissions") from None
    loader = InventoryLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: LineMap = {}
        _collect_lines(node, (), lines)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        where = f"{shown}:{line}" if line else shown
        raise UserInputError(
            f"{where}: is not valid YAML: {exc.problem}", "correct the YAML syntax there; yamllint shows the exact spot"
        ) from None
    except yaml.YAMLError as exc:
        raise UserInputError(f"{shown}: is not valid YAML: {exc}", "correct the YAML syntax") from None
    finally:
        loader.dispose()
