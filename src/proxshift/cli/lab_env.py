"""A shell that sourced `.lab/env` before the lab was restarted holds the old tokens: say so, not "log in again"."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# What each `lab up` makes anew: a shell holding other values for all of them sourced an earlier lab's file.
# (One of them set to something else is the user's own choice, e.g. a token with a policy: its error stands.)
REGENERATED = ("VAULT_TOKEN", "PROXSHIFT_PROXMOX_TOKEN_SECRET")


def stale_lab_env(shell: Mapping[str, str] = os.environ) -> str | None:
    """A hint when this shell's lab variables are an earlier lab's (or the lab is gone); else None."""
    config = shell.get("PROXSHIFT_CONFIG", "")
    if Path(config).name != "site-config.yaml" or Path(config).parent.name != ".lab":
        return None  # not pointed at a lab
    env_file = Path(config).parent / "env"
    try:
        text = env_file.read_text()
        if not (env_file.parent / "state.json").is_file():  # `lab down` removes it, and leaves the env file
            raise FileNotFoundError(env_file.parent / "state.json")
    except OSError:
        return (
            f"this shell points at the lab in {env_file.parent}, which is not up: "
            f"'proxshift lab up', then '. {env_file}'"
        )
    exported = {}
    for line in text.splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if line.startswith("export ") and sep and name != "PATH":
            exported[name] = value.strip("'")
    regenerated = [name for name in REGENERATED if name in exported]
    if regenerated and all(shell.get(name) != exported[name] for name in regenerated):
        return f"the lab was restarted since this shell sourced its variables: run '. {env_file}' again"
    return None
