"""Consent before anything destructive: the list of what goes, then a question on a terminal, or --yes.

Without a terminal and without --yes the command stops (exit 2) before changing anything; answering no
is `Aborted` (exit 1, "aborted, nothing changed").
"""

from __future__ import annotations

import sys

from proxshift.cli.console import UI
from proxshift.engine.events import Confirm
from proxshift.errors import UserInputError


def asker(ui: UI, yes: bool, command: str) -> Confirm:
    """A `Confirm` for the engine: prints the question and each item on stderr, then asks (unless --yes)."""

    def confirm(question: str, items: list[str], /) -> bool:
        ui.info(question)
        for item in items:
            ui.info(f"  {item}")
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UserInputError(
                f"{command} destroys what is listed above and needs confirmation",
                "nothing was changed; run it on a terminal to be asked, or pass --yes",
            )
        # Not click's prompt: it prints a space on stdout, which --json output cannot have.
        ui.stderr.write("Go ahead? [y/N] ")
        ui.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")  # end of input is a no

    return confirm
