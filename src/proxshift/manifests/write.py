"""Write rendered manifests into an install dir: private, atomic, and never losing what was there."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from proxshift.config.install_dir import InstallDir
from proxshift.files import private_dir, write_private
from proxshift.manifests.render import RenderedManifests


@dataclass
class WriteReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    moved_to_history: Path | None = None


def write(rendered: RenderedManifests, install_dir: InstallDir, now: datetime | None = None) -> WriteReport:
    """Write both manifests and kept copies; anything different already there goes to history first."""
    report = WriteReport()
    private_dir(install_dir.path)
    private_dir(install_dir.rendered)
    targets = [(install_dir.path / name, text) for name, text in rendered.items()]
    targets += [(install_dir.rendered / name, text) for name, text in rendered.items()]
    differing = [p for p, text in targets if p.exists() and p.read_text() != text]
    if differing:
        history = install_dir.history_entry(now)
        private_dir(history)
        for path in differing:
            relative = path.relative_to(install_dir.path)
            destination = history / relative
            private_dir(destination.parent)
            os.replace(path, destination)
        report.moved_to_history = history
    for path, text in targets:
        if path.exists() and path.read_text() == text:
            report.unchanged.append(path)
            continue
        write_private(path, text)
        report.written.append(path)
    return report
