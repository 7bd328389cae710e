"""The flow: the one ordered list of phases, and choosing from it (--from, --only, --skip).

Everything that names phases derives from PHASES: the run, the state file's records, the dry-run
plan, `doctor`, docs/provisioning.md's table (a test compares them). A new phase is a new object here,
at its place in the order (and its name in config/post_install.PHASE_NAMES, which hooks are checked
against). `proxshift post` runs `after("acm")`: the phases that finish an installed cluster.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxshift.engine.phases.acm import Acm
from proxshift.engine.phases.base import Options, Phase
from proxshift.engine.phases.build import Iso, Manifests, Upload
from proxshift.engine.phases.checks import Preflight, Secrets
from proxshift.engine.phases.finish import Health, Labels, Storage
from proxshift.engine.phases.gitops import Apps, Eso, Gitops
from proxshift.engine.phases.install import Credentials, Wait
from proxshift.engine.phases.machines import Start, Vms
from proxshift.engine.phases.restore import Restore
from proxshift.errors import UserInputError

PHASES: tuple[Phase, ...] = (
    Preflight(),
    Secrets(),
    Manifests(),
    Iso(),
    Upload(),
    Vms(),
    Start(),
    Wait(),
    Credentials(),
    Acm(),
    # After the install (`proxshift post`): restore first, so certificates exist before anything that would
    # request new ones; storage after GitOps, which may be what creates the StorageClass it waits for.
    Restore(),
    Labels(),
    Gitops(),
    Eso(),
    Apps(),
    Storage(),
    Health(),
)


def names(phases: Sequence[Phase] = PHASES) -> list[str]:
    return [phase.name for phase in phases]


def after(name: str, phases: Sequence[Phase] = PHASES) -> tuple[Phase, ...]:
    """The phases that follow `name` (`after("acm")`: the post-install phases)."""
    return tuple(phases[names(phases).index(name) + 1 :])


def select(options: Options, phases: Sequence[Phase] = PHASES) -> list[Phase]:
    """The phases a run executes, in order; an unknown name is exit 2, listing the known ones."""
    known = names(phases)
    for name in (options.start_from, options.only, *options.skip):
        if name is not None and name not in known:
            raise UserInputError(f"unknown phase '{name}'", "phases: " + ", ".join(known))
    if options.only:
        return [phase for phase in phases if phase.name == options.only]
    start = known.index(options.start_from) if options.start_from else 0
    return [phase for phase in phases[start:] if phase.name not in options.skip]
