"""`provision`: the whole flow as named, idempotent phases with a state file, a lock and a plan.

Phases run in this order; each records its completion and a hash of its inputs in
ocp_install/<cluster>/state.json, and a re-run skips a completed phase whose inputs did not change.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proxshift.config.install_dir import InstallDir
from proxshift.config.inventory import Cluster
from proxshift.config.project import Project
from proxshift.errors import OperationError, ProxshiftError, UserInputError
from proxshift.files import write_private

PHASES = ("preflight", "secrets", "manifests", "iso", "upload", "vms", "start", "wait", "credentials", "acm")
# Phases that only read: they run every time (cheap), so what follows them sees fresh facts.
ALWAYS = frozenset({"preflight", "secrets"})

Emit = Callable[[dict[str, Any]], None]


# -- state file -------------------------------------------------------------------------------------------


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cluster_fingerprint(cluster: Cluster) -> str:
    """This cluster's inventory entry, as resolved (so inherited vars count too)."""
    return _digest(
        cluster.vars.model_dump(mode="json"),
        [(n.name, n.role, str(n.ip), n.mac, n.spec.model_dump(mode="json")) for n in cluster.nodes],
    )


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}
        self.data.setdefault("phases", {})

    def done(self, phase: str, inputs: str) -> bool:
        entry = self.data["phases"].get(phase) or {}
        return entry.get("status") == "done" and entry.get("inputs") == inputs

    def record(self, phase: str, inputs: str, seconds: float, **extra: Any) -> None:
        self.data["phases"][phase] = {
            "status": "done",
            "inputs": inputs,
            "seconds": round(seconds, 3),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            **extra,
        }
        self.save()

    def save(self) -> None:
        write_private(self.path, json.dumps(self.data, indent=2))


# -- lock ------------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


@contextlib.contextmanager
def cluster_lock(install_dir: InstallDir, cluster: str, notify: Callable[[str], None]) -> Iterator[None]:
    """One run per cluster; a lock left by a dead process is taken over, with a notice."""
    install_dir.path.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = install_dir.lock_file
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                holder = int(lock.read_text().strip() or "0")
            except (OSError, ValueError):
                holder = 0
            if holder and _alive(holder):
                raise UserInputError(
                    f"another proxshift run (PID {holder}) is working on {cluster}",
                    f"wait for it to finish; if it is gone for good, remove {lock}",
                ) from None
            notify(f"taking over a stale lock of PID {holder or '?'} (that process is gone)")
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


# -- the run ---------------------------------------------------------------------------------------------


@dataclass
class Options:
    force: bool = False
    start_from: str | None = None
    only: str | None = None
    skip: tuple[str, ...] = ()
    wait_timeout: float = 120 * 60
    wait_poll: float = 5.0
    acm_mode: str = "auto"
    acm_timeout: float = 15 * 60


@dataclass
class Summary:
    cluster: str
    console_url: str | None = None
    api_url: str | None = None
    credentials: str | None = None
    seconds: float = 0.0


class Interrupted(ProxshiftError):
    exit_code = 130  # type: ignore[assignment]


def selected_phases(options: Options) -> list[str]:
    for name in (options.start_from, options.only, *options.skip):
        if name is not None and name not in PHASES:
            raise UserInputError(f"unknown phase '{name}'", "phases: " + ", ".join(PHASES))
    if options.only:
        return [options.only]
    start = PHASES.index(options.start_from) if options.start_from else 0
    return [p for p in PHASES[start:] if p not in options.skip]


class Provision:
    """Runs the phases for one cluster; every side effect goes through the service modules."""

    def __init__(self, project: Project, cluster_name: str, options: Options, emit: Emit) -> None:
        self.project = project
        self.name = cluster_name
        self.cluster = project.cluster(cluster_name)
        self.options = options
        self.emit = emit
        self.install_dir = project.paths.install_dir(cluster_name)
        self.summary = Summary(cluster_name)
        self.versions: dict[str, int] = {}
        self._prox: Any = None

    # -- helpers -----------------------------------------------------------------------------------------

    def log(self, phase: str, message: str) -> None:
        self.emit({"event": "log", "phase": phase, "message": message})

    def notify(self, message: str) -> None:
        self.emit({"event": "warning", "message": message})

    def _proxmox(self) -> Any:
        """One connection (and one login) for the whole run, made when a phase first needs it."""
        if self._prox is None:
            from proxshift.engine.connections import proxmox_for

            self._prox = proxmox_for(self.project, self.name, self.notify)[0]
        return self._prox

    def inputs(self, phase: str) -> str:
        cluster = cluster_fingerprint(self.cluster)
        settings = self.project.settings.model_dump_json(exclude={"source", "source_label", "warnings"})
        if phase == "manifests":
            return _digest(cluster, settings, self.versions)
        if phase == "iso":
            rendered = self.install_dir.rendered
            return _digest(
                [(p.name, p.read_text()) for p in sorted(rendered.glob("*.yaml"))] if rendered.is_dir() else []
            )
        if phase == "upload":
            iso = self.install_dir.iso
            return _digest(
                cluster, iso.stat().st_size if iso.exists() else None, iso.stat().st_mtime_ns if iso.exists() else None
            )
        return _digest(cluster, settings)

    # -- live cluster guard ---------------------------------------------------------------------------------

    def live_api(self) -> str | None:
        """The API URL if the cluster answers with the credentials in Vault; else None."""
        from proxshift.engine.install import live_api

        return live_api(self.project, self.name)

    def tear_down(self) -> None:
        """--force on a live cluster: detach from ACM, destroy our VMs, move the install directory to history."""
        from proxshift.engine.deprovision import deprovision

        self.log(
            "preflight", "--force: detaching from ACM, destroying the VMs, moving the install directory to history"
        )
        teardown = deprovision(
            self.project,
            self.name,
            acm_timeout=self.options.acm_timeout,
            prox=self._proxmox(),
            notify=self.notify,
            report=lambda m: self.log("acm", m.strip()),
        )
        self.log("acm", f"ACM detach skipped: {teardown.acm_skipped}" if teardown.acm_skipped else str(teardown.acm))
        if teardown.run.failed:
            raise OperationError(
                "tearing the cluster down failed: "
                + "; ".join(f"{r.host}: {r.detail}" for r in teardown.run.results if not r.ok),
                "see 'proxshift status'",
            )
        if teardown.archive:
            self.log("preflight", f"previous install directory moved to {self.project.paths.shown(teardown.archive)}")

    # -- phases -------------------------------------------------------------------------------------------

    def phase_preflight(self) -> None:
        from proxshift.engine.vm_plan import check_before_create

        plans = check_before_create(
            self._proxmox(), self.cluster, force=self.options.force, iso_upload=True, iso_present=False
        )
        for plan in plans:
            self.log("preflight", f"{plan.spec.host} (vmid {plan.spec.vmid}): {plan.action}")
        if "iso" in selected_phases(self.options):
            from proxshift.clients.installer import find_installer

            found = find_installer(self.cluster.vars.ocp_version, self.project.settings.ocp_installer_path)
            self.log("preflight", f"openshift-install {self.cluster.vars.ocp_version}: {found.path}")

    def phase_secrets(self) -> None:
        from proxshift.engine.connections import vault_for

        secrets = vault_for(self.project, self.notify).read_install_secrets(self.project.settings)
        self.versions = dict(secrets.versions)
        self.log("secrets", "read " + ", ".join(f"{k} v{v}" for k, v in sorted(self.versions.items())))

    def phase_manifests(self) -> None:
        from proxshift.engine.manifests_flow import generate_manifests

        result = generate_manifests(self.project, self.name, notify=self.notify)
        report = result.report
        if report:
            self.log("manifests", f"{len(report.written)} written, {len(report.unchanged)} unchanged")

    def phase_iso(self) -> None:
        from proxshift.engine.install import create_iso

        if not self.install_dir.install_config.exists():
            # The installer consumed them last time: put the kept copies back for a fresh image.
            for kept, target in zip(self.install_dir.rendered_manifests, self.install_dir.manifests, strict=True):
                shutil.copy2(kept, target)
        iso = create_iso(
            self.project, self.name, lambda line: self.emit({"event": "output", "phase": "iso", "line": line})
        )
        self.log("iso", f"created {self.project.paths.shown(iso)}")

    def phase_upload(self) -> None:
        from proxshift.engine.iso_upload import upload_iso

        iso = self.install_dir.iso
        last: dict[str, int] = {}

        def progress(target: Any, done: int, total: int) -> None:
            percent = done * 100 // max(total, 1)
            if percent // 10 != last.get(target.volid, -1):
                last[target.volid] = percent // 10
                self.emit(
                    {
                        "event": "progress",
                        "phase": "upload",
                        "target": f"{target.node}:{target.volid}",
                        "bytes": done,
                        "total": total,
                    }
                )

        for target in upload_iso(
            self._proxmox(), self.cluster, iso, self.install_dir, replace_ours=True, progress=progress
        ):
            verb = {"skip": "already there, skipped", "upload": "uploaded", "replace": "replaced"}[target.action]
            self.log("upload", f"{target.volid} on {target.node}: {verb}")

    def _vm_results(self, phase: str, run: Any) -> None:
        for result in run.results:
            self.log(phase, f"{result.host}: {'ok' if result.ok else 'FAILED'}: {result.detail}")
        if run.failed:
            raise OperationError(
                f"{phase}: " + "; ".join(f"{r.host}: {r.detail}" for r in run.results if not r.ok),
                f"fix it, then 'proxshift provision {self.name} --from {phase}'",
            )

    def phase_vms(self) -> None:
        from proxshift.engine.vm_lifecycle import create_vms

        self._vm_results(
            "vms",
            create_vms(
                self._proxmox(),
                self.cluster,
                force=self.options.force,
                progress=lambda host, message: self.log("vms", f"{host}: {message}"),
            ),
        )

    def phase_start(self) -> None:
        from proxshift.engine.vm_lifecycle import start_vms

        self._vm_results(
            "start",
            start_vms(
                self._proxmox(), self.cluster, progress=lambda host, message: self.log("start", f"{host}: {message}")
            ),
        )

    def phase_wait(self) -> None:
        from proxshift.engine.install import wait_for_install

        installed = wait_for_install(
            self.project,
            self.name,
            self.options.wait_timeout,
            lambda line: self.log("wait", line.strip()),
            self.options.wait_poll,
        )
        self.summary.console_url = installed.console_url
        self.summary.api_url = installed.api_url

    def phase_credentials(self) -> None:
        from proxshift.engine.install import store_credentials

        api = self.summary.api_url or self._api_from_kubeconfig()
        self.summary.api_url = api
        self.summary.credentials = store_credentials(self.project, self.name, api, self.notify)
        self.log("credentials", f"stored in Vault at {self.summary.credentials}")

    def _api_from_kubeconfig(self) -> str:
        import yaml

        data = yaml.safe_load(self.install_dir.kubeconfig.read_text())
        return str(data["clusters"][0]["cluster"]["server"])

    def phase_acm(self) -> None:
        from proxshift.engine.acm_flow import acm_context, acm_import

        try:
            context = acm_context(self.project, self.name, self.options.acm_mode, notify=self.notify)
        except UserInputError as exc:
            self.log("acm", f"skipped: {exc.message}")
            return
        if context.skipped:
            self.log("acm", f"skipped: {context.skipped}")
            return
        addons = acm_import(
            self.project, context, self.options.acm_mode, self.options.acm_timeout, lambda m: self.log("acm", m.strip())
        )
        self.log("acm", f"joined hub {context.hub_name}; add-ons: {', '.join(sorted(addons)) or 'none reported'}")

    def _phase(self, phase: str, status: str, began: float | None = None, **extra: Any) -> None:
        event: dict[str, Any] = {"event": "phase", "phase": phase, "status": status, **extra}
        if began is not None:
            event["seconds"] = round(time.monotonic() - began, 3)
        self.emit(event)

    # -- driver ---------------------------------------------------------------------------------------------

    def run(self) -> Summary:
        started = time.monotonic()
        phases = selected_phases(self.options)
        with cluster_lock(self.install_dir, self.name, self.notify), _sigterm_as_interrupt():
            live = self.live_api() if "preflight" in phases else None
            if live and not self.options.force:
                raise UserInputError(
                    f"{self.name} is a live cluster: its API at {live} answers with the stored credentials",
                    "nothing was changed; use --force to tear it down and provision it again",
                )
            if live:
                self.tear_down()
            state = State(self.install_dir.state_file)  # after a teardown, a fresh one
            state.data["cluster"] = self.name
            for phase in PHASES:
                if phase not in phases:
                    self._phase(phase, "skipped", reason="not selected")
                    continue
                inputs = self.inputs(phase)
                if phase not in ALWAYS and state.done(phase, inputs) and not self.options.only:
                    self._phase(phase, "skipped", reason="done, inputs unchanged")
                    continue
                self._phase(phase, "running")
                began = time.monotonic()
                try:
                    getattr(self, f"phase_{phase}")()
                except KeyboardInterrupt:
                    self._phase(phase, "interrupted", began)
                    raise Interrupted(
                        f"interrupted during {phase}; completed phases are recorded",
                        f"resume with: proxshift provision {self.name}",
                    ) from None
                except ProxshiftError:
                    self._phase(phase, "failed", began)
                    raise
                state.record(phase, inputs, time.monotonic() - began)
                self._phase(phase, "done", began)
        self.summary.seconds = time.monotonic() - started
        if self.summary.credentials is None:
            from proxshift.clients.vault import KvPath

            self.summary.credentials = str(KvPath.parse(self.project.settings.credentials_path).child(self.name))
        return self.summary


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops between steps like Ctrl-C, so the state file stays consistent."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def dry_run_plan(
    project: Project, cluster_name: str, options: Options, notify: Callable[[str], None]
) -> list[dict[str, Any]]:
    """What each phase would do, from the inventory plus read-only lookups; nothing is changed."""
    from proxshift.clients.installer import find_installer
    from proxshift.clients.vault import KvPath, install_items
    from proxshift.engine.acm_flow import acm_context
    from proxshift.engine.connections import proxmox_for
    from proxshift.engine.manifests_flow import generate_manifests
    from proxshift.engine.vm_plan import plan_vms, specs_for

    cluster = project.cluster(cluster_name)
    install_dir = project.paths.install_dir(cluster_name)
    shown = project.paths.shown
    steps: list[dict[str, Any]] = []
    phases = selected_phases(options)
    prox, _ = proxmox_for(project, cluster_name, notify)
    plans = plan_vms(prox, specs_for(cluster), force=options.force)
    state = State(install_dir.state_file)

    def add(phase: str, **details: Any) -> None:
        if phase in phases:
            done = state.data["phases"].get(phase, {}).get("status") == "done"
            steps.append({"phase": phase, "previously_done": done, **details})

    add(
        "preflight",
        checks=["Proxmox privileges", "VM plan (no foreign VM on an inventory vmid, drift)", "live cluster"],
        refusals=[f"{p.spec.host}: {p.reason}" for p in plans if p.action in ("refuse", "drift")],
    )
    add(
        "secrets",
        reads=[
            f"{item.name}: {KvPath.parse(item.path)} key {item.key}"
            for item in install_items(project.settings).values()
        ],
    )
    rendered = generate_manifests(project, cluster_name, dry_run=True, notify=notify)
    add(
        "manifests",
        writes=[shown(p) for p in install_dir.manifests],
        manifests={name: text for name, text in rendered.redacted.items()},
    )
    try:
        installer = str(find_installer(cluster.vars.ocp_version, project.settings.ocp_installer_path).path)
    except UserInputError as exc:
        installer = f"MISSING: {exc.message}"
    add("iso", installer=installer, writes=[shown(install_dir.iso), shown(install_dir.auth)])
    add("upload", targets=sorted({s.iso_volume for s in specs_for(cluster) if s.iso_volume}))
    add(
        "vms",
        vms=[
            {
                "host": p.spec.host,
                "vmid": p.spec.vmid,
                "node": p.spec.node,
                "action": p.action,
                "reason": p.reason,
                "drift": [str(d) for d in p.drift],
                "params": {k: v for k, v in p.spec.params.items()},
            }
            for p in plans
        ],
    )
    add("start", vms=[p.spec.host for p in plans])
    add(
        "wait",
        watches=[
            project.settings.agent_api_urls.get(cluster_name)
            or f"http://{cluster.rendezvous_ip}:8090/api/assisted-install/v2",
            "the cluster's API",
        ],
    )
    add("credentials", writes=[str(KvPath.parse(project.settings.credentials_path).child(cluster_name))])
    try:
        acm = acm_context(project, cluster_name, options.acm_mode, notify=notify, connect=False)
        hub = (
            {"skipped": acm.skipped}
            if acm.skipped
            else {"hub": acm.hub_name, "documents": acm.plan.redacted if acm.plan else []}
        )
    except ProxshiftError as exc:
        hub = {"skipped": exc.message}
    add("acm", **hub)
    return steps
