"""What the global options decided, handed to every command through Typer's context object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proxshift.cli.console import UI
from proxshift.config.paths import Paths

if TYPE_CHECKING:
    from proxshift.config.project import Project
    from proxshift.config.settings import Settings


@dataclass
class AppContext:
    """What the global options decided, handed to every command."""

    paths: Paths
    ui: UI
    debug: bool
    # Set by cli/main.py for a command that changes a cluster: takes the cluster's lock once the project is
    # loaded (so the cluster is known to exist), before the command changes anything.
    on_project: Callable[[Project], None] | None = None

    def project(
        self,
        *,
        need_site_config: bool = True,
        strict: bool = False,
        only: list[str] | None = None,
        quiet: bool = False,
        on_settings: Callable[[Settings], None] | None = None,
    ) -> Project:
        """Load and validate; print warnings in full, or (quiet) as a one-line pointer to validate."""
        from proxshift.config.project import load_project  # pydantic and YAML only for commands that read files

        project = load_project(
            self.paths, need_site_config=need_site_config, strict=strict, only=only, on_settings=on_settings
        )
        if quiet and project.warnings:
            count = len(project.warnings)
            scope = "".join(f" {name}" for name in only or [])  # the same clusters, so the same count
            self.ui.info(
                f"{count} warning{'s' if count != 1 else ''} in the inventory or site config: "
                f"run 'proxshift validate{scope}'"
            )
        else:
            self.ui.problems(project.warnings)
        for key in project.settings.ignored_keys:
            self.ui.debug(f"{project.settings.source_label}: '{key}' is a predecessor key proxshift does not use")
        if self.on_project is not None:
            take, self.on_project = self.on_project, None
            take(project)
        return project
