"""Where the root, the inventory and the site config are; cheap to import (no pydantic)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from proxshift.config.install_dir import InstallDir


@dataclass(frozen=True)
class Paths:
    """Where the root, the inventory and the site config are, and why."""

    root: Path
    inventory: Path
    config: Path | None
    config_tried: tuple[Path, ...] = field(default_factory=tuple)

    def install_dir(self, cluster: str) -> InstallDir:
        return InstallDir(self.root / "ocp_install" / cluster)

    def shown(self, path: Path | InstallDir) -> str:
        """A path as users want to read it: relative to the root when inside it."""
        if isinstance(path, InstallDir):
            path = path.path
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)


def cache_root() -> Path:
    """proxshift's cache (listings, installer binaries): $XDG_CACHE_HOME/proxshift, else ~/.cache/proxshift."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "proxshift"


def discover_paths(root: Path | None = None, config: Path | None = None, inventory: Path | None = None) -> Paths:
    """Flag > environment > <root>/config/site-config.yaml > ~/.proxshift/site-config.yaml."""
    root = root or Path(os.environ.get("PROXSHIFT_ROOT") or Path.cwd())
    inventory = inventory or root / "inventory" / "clusters.yml"
    if config is not None:
        return Paths(root, inventory, config, (config,))
    env_config = os.environ.get("PROXSHIFT_CONFIG")
    if env_config:
        return Paths(root, inventory, Path(env_config).expanduser(), (Path(env_config),))
    candidates = (root / "config" / "site-config.yaml", Path.home() / ".proxshift" / "site-config.yaml")
    found = next((c for c in candidates if c.is_file()), None)
    return Paths(root, inventory, found, candidates)
