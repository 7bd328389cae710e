"""One place for output: rich consoles for stdout (results) and stderr (progress, problems)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import IO, TYPE_CHECKING, Any

from proxshift.errors import Problem, ProxshiftError

if TYPE_CHECKING:
    from rich.console import Console


class UI:
    """Results go to stdout (tables, --json); everything for the human at the keyboard to stderr."""

    def __init__(self, stdout: IO[str] | None = None, stderr: IO[str] | None = None, debug: bool = False) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self.debug_enabled = debug
        self._out: Console | None = None
        self._err: Console | None = None

    @property
    def out(self) -> Console:
        if self._out is None:
            from rich.console import Console

            stream = self.stdout
            # Piped output keeps whole rows (rich would otherwise fold at 80 columns).
            width = None if stream.isatty() else _piped_width()
            self._out = Console(file=stream, width=width, highlight=False, soft_wrap=False)
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            from rich.console import Console

            self._err = Console(file=self.stderr, highlight=False, soft_wrap=True)
        return self._err

    @property
    def stdout(self) -> IO[str]:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return self._stderr or sys.stderr

    def json(self, data: Any) -> None:
        self.stdout.write(json.dumps(data, indent=2, default=str) + "\n")

    @property
    def plain(self) -> bool:
        """Piped stderr gets plain lines: no colour codes, and no rich import (~35 ms) for them."""
        return not self.stderr.isatty() and not os.environ.get("FORCE_COLOR")

    def _line(self, label: str, style: str, message: str, indent: str = "") -> None:
        if self.plain:
            stream = self.stderr
            stream.write(f"{indent}{label} {message}\n" if label else f"{indent}{message}\n")
            stream.flush()
        elif label:
            self.err.print(f"{indent}[{style}]{label}[/{style}] {_escape(message)}", emoji=False)
        else:
            self.err.print(f"{indent}{message}", markup=False, emoji=False)

    def info(self, message: str) -> None:
        self._line("", "", message)

    def success(self, message: str) -> None:
        self._line("✓", "green", message)

    def warning(self, message: str) -> None:
        self._line("warning:", "yellow", message)

    def warnings_pointer(self, count: int) -> None:
        self.info(
            f"{count} warning{'s' if count != 1 else ''} in the inventory or site config: run 'proxshift validate'"
        )

    def debug(self, message: str) -> None:
        if self.debug_enabled:
            self._line("debug:", "dim", message)

    def problems(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            where = f"{problem.file}:{problem.line}" if problem.line else problem.file
            head = f"{where}: {problem.location}: " if problem.location else f"{where}: "
            if problem.is_error:
                self._line("error:", "red", head + problem.message)
            else:
                self._line("warning:", "yellow", head + problem.message)
            if problem.fix:
                self._line("fix:", "dim", problem.fix, indent="  ")

    def error(self, exc: ProxshiftError) -> None:
        self._line("error:", "red", exc.message)
        if exc.hint:
            self._line("hint:", "dim", exc.hint, indent="  ")

    def newline(self) -> None:
        self.stdout.write("\n")

    def table(self, title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """Cells are shown as they are: never read as markup (they may hold text from a server). Piped, a
        table rich would draw the same way is drawn without rich (its import costs ~35 ms, most of a
        cached `proxshift clusters`)."""
        cells = [tuple(row) for row in rows]
        if title is None and not self._rich_may_see_a_terminal():
            text = _plain_table(columns, cells, _piped_width())
            if text is not None:
                self.stdout.write(text)
                return
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, show_edge=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in cells:
            table.add_row(*(Text(cell) for cell in row))
        if self.out.is_terminal:
            self.out.print(table)
            return
        # Piped output: no trailing blanks, so that grep, diff and golden files see clean lines.
        with self.out.capture() as captured:
            self.out.print(table)
        lines = [line.rstrip() for line in captured.get().splitlines()]
        self.out.file.write("\n".join(lines) + "\n")

    def _rich_may_see_a_terminal(self) -> bool:
        """False only where rich's Console.is_terminal surely answers False: stdout is no tty and no variable
        tells rich otherwise."""
        # With either set, rich may take a pipe for a terminal (rich.console.Console.is_terminal).
        return (
            self.stdout.isatty()
            or os.environ.get("FORCE_COLOR") is not None
            or os.environ.get("TTY_COMPATIBLE") is not None
        )


def _piped_width() -> int:
    return int(os.environ.get("COLUMNS") or 1000)


def _plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> str | None:
    """The table as rich prints it to a pipe (box SIMPLE_HEAD without edges, left-justified, one space of
    padding and one of separator between columns, trailing blanks stripped), or None where rich's own
    rules would differ: a cell that is not printable ASCII (display widths), or a table wider than `width`
    (rich folds its columns)."""
    if not columns:
        return None
    lines_of = [[str(cell).split("\n") for cell in row] for row in [columns, *rows]]
    for row in lines_of:
        if len(row) != len(columns) or not all(line.isascii() and line.isprintable() for cell in row for line in cell):
            return None
    widths = [max(len(line) for row in lines_of for line in row[i]) for i in range(len(columns))]
    total = sum(widths) + 3 * (len(widths) - 1)
    if total > width:
        return None
    lines = []
    for index, row in enumerate(lines_of):
        for depth in range(max(len(cell) for cell in row)):
            parts = [(cell[depth] if depth < len(cell) else "").ljust(w) for cell, w in zip(row, widths, strict=True)]
            lines.append("   ".join(parts).rstrip())
        if index == 0:
            lines.append("\u2500" * total)
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
