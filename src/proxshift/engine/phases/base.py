"""What a phase is, and the context one provision run hands to each phase.

A phase is one object in the list of engine/phases/flow.py. It has a name, a one-line description
(docs/provisioning.md's table), whether it always runs, a digest of its inputs (a phase recorded done
with the same digest is skipped on a re-run), a plan (what --dry-run shows: data, rendered as text or
JSON by the CLI), a run, and a way to say it is not configured for a cluster (then it is skipped with
that reason, never an error). Phases import their service modules inside `plan` and `run`, so the
list stays cheap to import. The driver calls `execute` (the run between the phase's hooks) and
`planned` (the plan with the hooks it would run).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from proxshift.engine.events import HostState, Log, Notice, Output, Reporter
from proxshift.engine.state import State, cluster_fingerprint, digest

if TYPE_CHECKING:
    from proxshift.clients.kube import Kube
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.config.project import Project
    from proxshift.engine.hooks import Hook
    from proxshift.engine.vmspec import VmPlan
    from proxshift.secret import Secret

HOOK_TIMES = ("before", "after")


@dataclass
class Options:
    """What the command line chose for one run."""

    force: bool = False
    start_from: str | None = None
    only: str | None = None
    skip: tuple[str, ...] = ()
    wait_timeout: float = 120 * 60
    wait_poll: float = 5.0
    acm_mode: str = "auto"
    acm_timeout: float = 15 * 60
    hub_kubeconfig: Path | None = None  # else PROXSHIFT_HUB_KUBECONFIG, else the hub's credentials in Vault
    post_timeout: float = 20 * 60  # each wait of the post-install phases (an operator, Argo CD, a store)


class PhaseContext:
    """One cluster's run: its inputs, what earlier phases found, the reporter, one Proxmox connection."""

    def __init__(
        self, project: Project, cluster_name: str, options: Options, report: Reporter, selected: Sequence[str] = ()
    ) -> None:
        self.project = project
        self.name = cluster_name
        self.cluster = project.cluster(cluster_name)
        self.options = options
        self.report = report
        self.selected = tuple(selected)  # the names of the phases this run executes
        self.install_dir = project.paths.install_dir(cluster_name)
        self.results = Results()
        self._prox: Proxmox | None = None
        self._vm_plans: list[VmPlan] | None = None
        self._kubeconfig: Secret | None = None
        self._kube: Kube | None = None
        self._live: tuple[str | None] | None = None

    def notify(self, message: str) -> None:
        """For clients and engine helpers that take a plain `Callable[[str], None]` for warnings."""
        self.report(Notice(message))

    def proxmox(self) -> Proxmox:
        """One connection (and one login) for the whole run, made when a phase first needs it."""
        if self._prox is None:
            from proxshift.engine.connections import proxmox_for

            self._prox = proxmox_for(self.project, self.name, self.notify)[0]
        return self._prox

    def vm_plans(self) -> list[VmPlan]:
        """What would happen to each VM (read-only; the plans of several phases share it)."""
        if self._vm_plans is None:
            from proxshift.engine.vm_plan import plan_vms, specs_for

            self._vm_plans = plan_vms(self.proxmox(), specs_for(self.cluster), force=self.options.force)
        return self._vm_plans

    def kubeconfig(self) -> Secret:
        """The installed cluster's kubeconfig: the one this run's install just left, until the credentials
        phase has stored it; otherwise the one stored in Vault, else (Vault holds nothing for the cluster)
        the install directory's."""
        if self._kubeconfig is None:
            from proxshift.engine.connections import cluster_kubeconfig
            from proxshift.secret import Secret

            local = self.install_dir.kubeconfig
            if self.results.api_url and self.results.credentials is None and local.is_file():
                self._kubeconfig = Secret(local.read_text(), str(local))
            else:
                self._kubeconfig = cluster_kubeconfig(self.project, self.name, self.notify)[0]
        return self._kubeconfig

    def kube(self) -> Kube:
        """One connection to the installed cluster's API for the run; its changes go to the audit trail."""
        if self._kube is None:
            from proxshift.engine.audited_kube import AuditedKube
            from proxshift.engine.post_install import REFUSED_HINT

            self._kube = AuditedKube(self.kubeconfig().reveal(), self.name, hint=REFUSED_HINT)
        return self._kube

    def reconnect(self) -> None:
        """The next `kube()` reads the kubeconfig again (restore added a CA to the one stored in Vault)."""
        self._kubeconfig = None
        self._kube = None

    def hooks(self, phase: str, when: str) -> list[Hook]:
        """The hooks to run `when` ("before", "after") `phase`, their arguments filled in."""
        from proxshift.config.post_install import fill
        from proxshift.engine.hooks import Hook

        settings = self.project.settings
        hooks = self.cluster.hooks(settings.hooks)
        root = self.project.paths.root
        values = {
            "cluster_name": self.name,
            "phase": phase,
            "root": str(root),
            "install_dir": str(self.install_dir.path),
            "base_domain": self.cluster.base_domain or "",
        }
        timeout = self.cluster.hook_timeout(settings.hook_timeout)
        return [
            Hook(phase, when, tuple(fill(arg, values) for arg in argv), root, self.install_dir.path, self.name, timeout)
            for argv in (hooks.before if when == "before" else hooks.after).get(phase, [])
        ]

    def live_api(self) -> str | None:
        """The API URL if the cluster answers with the credentials in Vault (a live cluster), else None; asked
        once per run (a teardown says it is gone with `forget_live`)."""
        if self._live is None:
            from proxshift.engine.install import live_api

            self._live = (live_api(self.project, self.name),)
        return self._live[0]

    def forget_live(self) -> None:
        self._live = (None,)

    def forget_vm_plans(self) -> None:
        """The VMs changed (a teardown, a create): the next `vm_plans()` reads Proxmox again."""
        self._vm_plans = None

    def base_inputs(self) -> dict[str, Any]:
        """The cluster's inventory entry and the site config: what most phases depend on, by name."""
        from proxshift.config.settings import NOT_INSTALL_INPUTS

        settings = self.project.settings.model_dump_json(exclude=set(NOT_INSTALL_INPUTS))
        return {"the cluster's inventory entry": cluster_fingerprint(self.cluster), "the site config": settings}


def not_installed(ctx: PhaseContext) -> str | None:
    """Why there is no installed cluster to finish yet (the phases after `acm` are then skipped): its install
    was not followed to the end (`wait`), in this run or before (`adopt` records it for a cluster installed
    without proxshift)."""
    if "wait" in ctx.selected or State(ctx.install_dir.state_file).ever_done("wait"):
        return None
    return "the install is not recorded as complete (the wait phase has not run; 'proxshift adopt' records it)"


@dataclass
class Results:
    """What phases found that later phases, and the summary, use."""

    versions: dict[str, int] = field(default_factory=dict)  # secret name -> its Vault version
    console_url: str | None = None
    api_url: str | None = None
    credentials: str | None = None  # where in Vault
    created: list[str] = field(default_factory=list)  # VMs created (or recreated) by this run


class Phase(ABC):
    """One step of the flow. Subclasses set the class attributes and write `plan` and `run`."""

    name: ClassVar[str]
    description: ClassVar[str]  # one line: the docs' phase table, `doctor`
    always: ClassVar[bool] = False  # read-only and cheap: runs every time, so what follows sees fresh facts
    rebuilds: ClassVar[bool] = False  # builds the cluster anew (manifests, image, VMs): refused on a live cluster
    unchanged: ClassVar[str] = "the cluster's entry and the site config are unchanged"  # the docs' re-run column

    def not_configured(self, ctx: PhaseContext) -> str | None:
        """Why this phase has nothing to do for this cluster (it is then skipped with that reason), or None."""
        del ctx
        return None

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        """What the result depends on, by name ("the site config", ...): a change is named by its part."""
        return ctx.base_inputs()

    def inputs(self, ctx: PhaseContext) -> str:
        """A digest of what the result depends on: recorded done with the same digest, a re-run skips it."""
        return digest(*self.input_parts(ctx).values())

    def result_gone(self, ctx: PhaseContext) -> str | None:
        """Why the result of this phase, recorded done, is not there any more (it then runs again), or None.

        State is checked against reality, never trusted blindly: a VM removed by hand, an ISO deleted from
        storage. Read-only, and cheap next to the phase itself."""
        del ctx
        return None

    @abstractmethod
    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        """What --dry-run shows: JSON-able data, from the inventory plus read-only lookups; changes nothing."""

    @abstractmethod
    def run(self, ctx: PhaseContext) -> None:
        """Do it; raise a ProxshiftError to fail the phase (and the run)."""

    def timeout(self, ctx: PhaseContext) -> float | None:
        """The most seconds this phase may take, when it has such a limit (the live view shows its deadline)."""
        del ctx
        return None

    def log(self, ctx: PhaseContext, message: str) -> None:
        ctx.report(Log(self.name, message))

    def host(self, ctx: PhaseContext, host: str, state: str, **details: str) -> None:
        """Where one host stands in this phase (one row of the live view's table)."""
        ctx.report(HostState(self.name, host, state, tuple(details.items())))

    # -- what the driver calls: the phase with its hooks ----------------------------------------------

    def execute(self, ctx: PhaseContext) -> None:
        """The run between the phase's hooks; a failing hook fails the phase (it is not recorded done)."""
        self._run_hooks(ctx, "before")
        self.run(ctx)
        self._run_hooks(ctx, "after")

    def planned(self, ctx: PhaseContext) -> dict[str, Any]:
        """The plan, and the hooks that would run around it."""
        details = self.plan(ctx)
        for when in HOOK_TIMES:
            hooks = ctx.hooks(self.name, when)
            if hooks:
                details[f"hooks {when}"] = [hook.shown for hook in hooks]
        return details

    def _run_hooks(self, ctx: PhaseContext, when: str) -> None:
        from proxshift.config.post_install import PHASE_NAMES
        from proxshift.engine.hooks import hook_environment, private_kubeconfig, run_hook

        hooks = ctx.hooks(self.name, when)
        if not hooks:
            return
        kubeconfig = None
        order = PHASE_NAMES.index
        if order(self.name) > order("wait") or (self.name, when) == ("wait", "after"):  # the cluster is up
            from proxshift.engine.install import api_url_of
            from proxshift.errors import ProxshiftError

            try:
                kubeconfig = ctx.kubeconfig()
            except ProxshiftError as exc:
                ctx.notify(f"hooks {when} {self.name} run without KUBECONFIG: {exc.message}")
        api_url = api_url_of(kubeconfig) if kubeconfig is not None else None
        with private_kubeconfig(kubeconfig) as path:
            for hook in hooks:
                self.log(ctx, f"hook {when} {self.name}: {hook.shown}")
                env = hook_environment(hook, path, api_url)
                seconds = run_hook(hook, env, lambda line: ctx.report(Output(self.name, line)))
                self.log(ctx, f"hook {when} {self.name}: exit 0 ({seconds:.1f} s)")


@dataclass(frozen=True)
class PhasePlan:
    """One section of the dry-run plan."""

    phase: str
    previously_done: bool
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "previously_done": self.previously_done, **self.details}
