"""Resolve the predecessor's `{{ key }}` references between site-config keys."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from proxshift.errors import Problem

REFERENCE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.\w+)*")


class _Unresolvable(Exception):
    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


class ReferenceResolver:
    """Substitutes references using the config itself plus run-time names; finds cycles."""

    def __init__(self, raw: Mapping[str, Any], runtime: Mapping[str, str]) -> None:
        self._raw = raw
        self._runtime = runtime
        self._done: dict[str, Any] = {}
        self._stack: list[str] = []

    def _lookup(self, expression: str) -> str:
        if not DOTTED_NAME.fullmatch(expression):
            raise _Unresolvable(
                f"'{{{{ {expression} }}}}' is not a plain reference",
                "only {{ key }} or {{ key.subkey }} is supported; write the value out instead",
            )
        head, *rest = expression.split(".")
        if head in self._runtime and not rest:
            return self._runtime[head]
        if head not in self._raw:
            raise _Unresolvable(
                f"refers to '{head}', which is neither a key of this file nor a known name",
                "define that key, or use one of: " + ", ".join(sorted(self._runtime)),
            )
        value: Any = self.resolve_key(head)
        for part in rest:
            if not isinstance(value, Mapping) or part not in value:
                raise _Unresolvable(f"refers to '{expression}', which does not exist", "correct the reference")
            value = value[part]
        if isinstance(value, (Mapping, list)):
            raise _Unresolvable(f"refers to '{expression}', which is not a single value", "refer to a scalar key")
        return str(value)

    def _substitute(self, value: Any) -> Any:
        if isinstance(value, str):
            return REFERENCE.sub(lambda m: self._lookup(m.group(1)), value)
        if isinstance(value, Mapping):
            return {k: self._substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v) for v in value]
        return value

    def resolve_key(self, key: str) -> Any:
        if key in self._done:
            return self._done[key]
        if key in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(key) :], key])
            raise _Unresolvable(f"references form a loop ({cycle})", "break the loop by writing one value out")
        self._stack.append(key)
        try:
            self._done[key] = self._substitute(self._raw[key])
        finally:
            self._stack.pop()
        return self._done[key]


def resolve_references(
    raw: Mapping[str, Any], runtime: Mapping[str, str], file: str, keys: Iterable[str]
) -> tuple[dict[str, Any], list[Problem]]:
    """Resolve `keys` (and what they refer to); a key that cannot be resolved is dropped and reported.

    Only the keys proxshift uses are asked for: the predecessor's other keys refer to names
    Ansible set per cluster (`{{ ocp_install_dir }}`), which have no value here.
    """
    resolver = ReferenceResolver(raw, runtime)
    resolved: dict[str, Any] = {}
    problems: list[Problem] = []
    for key in keys:
        try:
            resolved[key] = resolver.resolve_key(str(key))
        except _Unresolvable as exc:
            problems.append(Problem(file, str(key), exc.message, exc.fix))
    return resolved, problems
