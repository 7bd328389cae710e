"""Small modules and functions (issue 10): a module outside lab/ stays within 400 lines, a function
within 80 unless its `def` line carries a `# shape: long function` note saying why a split would read worse."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "proxshift"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _product_modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "lab" not in p.relative_to(SRC).parts]


def test_modules_stay_small() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in _product_modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by job): {long}"


def test_functions_stay_small() -> None:
    long = []
    for path in _product_modules():
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES and "# shape: long function" not in lines[node.lineno - 1]:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
