"""The on-disk contract of `ocp_install/<cluster>/`: every path in it is named here and nowhere else.

```
ocp_install/<cluster>/
  install-config.yaml, agent-config.yaml   the installer's inputs (it consumes them)
  rendered/                                kept copies of both, for diffs and a fresh image
  openshift/                               extra install manifests the installer picks up
  agent.x86_64.iso                         the agent ISO
  auth/kubeconfig, auth/kubeadmin-password the new cluster's admin credentials (the installer's)
  .openshift_install_state.json            the installer's state (holds the watcher token)
  proxshift.log                            the installer's output, as streamed
  state.json                               proxshift's phase records
  uploads.json                             the ISO volumes proxshift uploaded (what it may delete)
  audit.jsonl                              the audit trail (append-only; stays when the rest is archived)
  .lock                                    one run per cluster (flock; names the holder's PID and command)
  add-nodes/<UTC stamp>/                   one `nodes add` run: nodes-config.yaml, node.x86_64.iso,
                                           report.json and oc.log (oc's), result.json (proxshift's)
  history/<UTC stamp>/                     what was replaced or archived, never deleted
```
Everything in it is private (0700 directories, 0600 files): it holds credentials.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MANIFEST_NAMES = ("install-config.yaml", "agent-config.yaml")


def history_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class AddNodesDir:
    """One `nodes add` run's directory: `oc adm node-image create --dir` reads and writes it."""

    path: Path

    @property
    def nodes_config(self) -> Path:
        """The input `oc adm node-image create` wants in its --dir, under this name."""
        return self.path / "nodes-config.yaml"

    @property
    def iso(self) -> Path:
        """What `oc adm node-image create` copies back (node.<arch>.iso; x86_64 only here)."""
        return self.path / "node.x86_64.iso"

    @property
    def report(self) -> Path:
        """oc's own report (4.18+, with --report): stages and the reason of a failure."""
        return self.path / "report.json"

    @property
    def oc_log(self) -> Path:
        return self.path / "oc.log"

    @property
    def result(self) -> Path:
        """What proxshift did: the hosts, the CSRs it approved and those it left pending, and why."""
        return self.path / "result.json"


@dataclass(frozen=True)
class InstallDir:
    """One cluster's install directory; every name of the layout above is an attribute."""

    path: Path

    @property
    def cluster(self) -> str:
        return self.path.name

    # -- the installer's inputs and outputs --------------------------------------------------------
    @property
    def manifests(self) -> tuple[Path, ...]:
        return tuple(self.path / name for name in MANIFEST_NAMES)

    @property
    def install_config(self) -> Path:
        return self.path / MANIFEST_NAMES[0]

    @property
    def agent_config(self) -> Path:
        return self.path / MANIFEST_NAMES[1]

    @property
    def rendered(self) -> Path:
        """Kept copies of the manifests: the installer deletes its inputs when it makes an image."""
        return self.path / "rendered"

    @property
    def rendered_manifests(self) -> tuple[Path, ...]:
        return tuple(self.rendered / name for name in MANIFEST_NAMES)

    @property
    def extra_manifests(self) -> Path:
        return self.path / "openshift"

    @property
    def iso(self) -> Path:
        return self.path / "agent.x86_64.iso"

    @property
    def auth(self) -> Path:
        return self.path / "auth"

    @property
    def kubeconfig(self) -> Path:
        return self.auth / "kubeconfig"

    @property
    def kubeadmin_password(self) -> Path:
        return self.auth / "kubeadmin-password"

    @property
    def installer_state(self) -> Path:
        return self.path / ".openshift_install_state.json"

    @property
    def installer_log(self) -> Path:
        return self.path / "proxshift.log"

    @property
    def image_outputs(self) -> tuple[Path, ...]:
        """What `agent create image` must leave behind."""
        return (self.iso, self.kubeconfig, self.kubeadmin_password, self.installer_state)

    # -- proxshift's own records -----------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def uploads_ledger(self) -> Path:
        return self.path / "uploads.json"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    @property
    def audit_log(self) -> Path:
        return self.path / "audit.jsonl"

    @property
    def history(self) -> Path:
        return self.path / "history"

    @property
    def add_nodes(self) -> Path:
        return self.path / "add-nodes"

    def add_nodes_run(self, now: datetime | None = None) -> AddNodesDir:
        """A new `nodes add` run's directory, named by its UTC start (not created here)."""
        return AddNodesDir(self.add_nodes / history_stamp(now))

    def history_entry(self, now: datetime | None = None) -> Path:
        return self.history / history_stamp(now)

    def archive(self, now: datetime | None = None) -> Path | None:
        """Move everything but the history, the lock and the audit trail into history/<UTC stamp>/; None when
        empty. The trail goes on across installs: it is the cluster's record, not one install's."""
        if not self.path.is_dir():
            return None
        kept = (self.history.name, self.lock_file.name, self.audit_log.name)
        entries = [e for e in self.path.iterdir() if e.name not in kept]
        if not entries:
            return None
        target = self.history_entry(now)
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        for entry in entries:
            shutil.move(str(entry), target / entry.name)
        return target

    def cannot_archive(self) -> list[Path]:
        """The directories `archive()` needs to write to and cannot (checked before anything is destroyed)."""
        if not self.path.is_dir():
            return []
        needed = [self.path, *(e for e in self.path.iterdir() if e.is_dir() and not e.is_symlink())]
        return [p for p in needed if not os.access(p, os.W_OK | os.X_OK)]

    def keep_in_history(self, paths: list[Path], now: datetime | None = None) -> Path | None:
        """Move those of `paths` (inside this dir) that exist into history/<UTC stamp>/; None when none exist."""
        present = [p for p in paths if p.exists() or p.is_symlink()]
        if not present:
            return None
        target = self.history_entry(now)
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in present:
            shutil.move(str(path), target / path.relative_to(self.path))
        return target

    @property
    def image_made_here(self) -> list[Path]:
        """What an `agent create image` run left here that a new one would replace (the admin credentials)."""
        return [p for p in (self.auth, self.installer_state) if p.exists()]

    def shown(self, path: Path) -> str:
        """A path inside the install dir as its users read it (relative), for messages."""
        try:
            return str(path.relative_to(self.path))
        except ValueError:
            return str(path)
