"""The release's binaries: openshift-install (find, fetch and verify; the agent ISO) and oc (find, fetch)."""

from __future__ import annotations

import hashlib
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from proxshift.config.install_dir import InstallDir
from proxshift.config.paths import cache_root as proxshift_cache
from proxshift.errors import OperationError, UserInputError
from proxshift.files import make_private_dirs, others_could_replace

if TYPE_CHECKING:
    import requests

DEFAULT_MIRROR = "https://mirror.openshift.com/pub/openshift-v4/clients/ocp"
INSTALLER_TIMEOUT = 1800.0  # `agent create image` downloads the release's base ISO: minutes, not hours
VERSION_LINE = re.compile(r"^openshift-install v?(\S+)", re.M)
OC_VERSION_LINE = re.compile(r"^Client Version: v?(\S+)", re.M)
OC_MINIMUM = (4, 17)


def cache_root() -> Path:
    return proxshift_cache() / "openshift-install"


def installer_version(binary: Path) -> str | None:
    """What `<binary> version` reports, or None when it does not run."""
    try:
        result = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = VERSION_LINE.search(result.stdout)
    return match.group(1) if result.returncode == 0 and match else None


@dataclass(frozen=True)
class InstallerBinary:
    """An openshift-install that reports the wanted version, and where it was found."""

    path: Path
    source: str


def find_installer(version: str, installer_dir: str | None) -> InstallerBinary:
    """ocp_installer_path/openshift-install-<version>, else PATH, else proxshift's cache."""
    looked: list[str] = []
    mismatches: list[str] = []
    if installer_dir:
        candidate = Path(installer_dir).expanduser() / f"openshift-install-{version}"
        looked.append(str(candidate))
        if candidate.is_file():
            reported = installer_version(candidate)
            if reported == version:
                return InstallerBinary(candidate, "ocp_installer_path")
            mismatches.append(f"{candidate} reports {reported or 'no version'}")
    on_path = shutil.which("openshift-install")
    looked.append("openshift-install on PATH")
    if on_path:
        reported = installer_version(Path(on_path))
        if reported == version:
            return InstallerBinary(Path(on_path), "PATH")
        mismatches.append(f"{on_path} is {reported or 'unknown'}")
    cached = cache_root() / version / "openshift-install"
    looked.append(str(cached))
    if cached.is_file() and (unsafe := others_could_replace(cached)):
        mismatches.append(f"{cached} is not run: {unsafe}")
    elif cached.is_file():
        reported = installer_version(cached)
        if reported == version:
            return InstallerBinary(cached, "cache")
        mismatches.append(f"{cached} reports {reported or 'no version'}")
    detail = f" ({'; '.join(mismatches)})" if mismatches else ""
    raise UserInputError(
        f"no openshift-install {version} found{detail}; looked at: {', '.join(looked)}",
        f"run 'proxshift installer fetch {version}', or put openshift-install-{version} in ocp_installer_path",
    )


def _tarball_name(tool: str = "openshift-install") -> str:
    """openshift-install-linux.tar.gz, or openshift-client-linux.tar.gz (oc) for tool 'oc'."""
    base = "openshift-client" if tool == "oc" else "openshift-install"
    return f"{base}-mac.tar.gz" if platform.system() == "Darwin" else f"{base}-linux.tar.gz"


def fetch_installer(
    version: str, mirror: str = DEFAULT_MIRROR, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Download the tarball and sha256sum.txt, verify, unpack into the cache; a mismatch keeps nothing."""
    return _fetch("openshift-install", version, mirror, installer_version, progress)


def fetch_oc(version: str, mirror: str = DEFAULT_MIRROR, progress: Callable[[int, int], None] | None = None) -> Path:
    """`oc` of a release, verified as openshift-install is, into the cache beside that release's installer."""
    return _fetch("oc", version, mirror, oc_version, progress)


def _fetch(
    tool: str,
    version: str,
    mirror: str,
    reports: Callable[[Path], str | None],
    progress: Callable[[int, int], None] | None,
) -> Path:
    import requests

    from proxshift.clients.transport import RETRY, failure_kind

    base = f"{mirror.rstrip('/')}/{version}"
    name = _tarball_name(tool)
    target = cache_root() / version
    _refuse_a_shared_cache(target)
    session = RETRY.session()  # a mirror's 503 or a dropped connection is tried again, as every other read
    try:
        sums = session.get(f"{base}/sha256sum.txt", timeout=30)
        if sums.status_code != 200:
            raise OperationError(
                f"{base}/sha256sum.txt answered HTTP {sums.status_code}", f"check that {version} exists on the mirror"
            )
        expected = next((line.split()[0] for line in sums.text.splitlines() if line.split()[-1:] == [name]), None)
        if expected is None:
            raise OperationError(f"{base}/sha256sum.txt lists no {name}", "check the mirror")
        _cache_dir(target)
        download, actual = _download(session, f"{base}/{name}", target, progress)
    except requests.RequestException as exc:
        raise OperationError(
            f"cannot download from {base} ({failure_kind(exc)})", "check the mirror URL and network"
        ) from None
    try:
        if actual != expected:
            raise OperationError(
                f"checksum mismatch for {name}: expected {expected}, got {actual}; the download was deleted",
                "try again; if it persists, the mirror or something in between is serving a different file",
            )
        binary = _unpack(download, name, tool, target)
    finally:
        download.unlink(missing_ok=True)
    reported = reports(binary)
    if reported != version:
        binary.unlink(missing_ok=True)
        raise OperationError(
            f"the downloaded {tool} reports {reported or 'no version'}, not {version}", "check the version and mirror"
        )
    return binary


def _refuse_a_shared_cache(target: Path, checked: Path | None = None) -> None:
    """Exit 2 when another user could replace what is put in `target` (proxshift runs those programs); before
    anything is fetched or made, its nearest existing directory is what decides."""
    checked = checked or next(directory for directory in [target, *target.parents] if directory.exists())
    unsafe = others_could_replace(checked)
    if unsafe:
        raise UserInputError(
            f"cannot keep programs in {target}: {unsafe}",
            "point XDG_CACHE_HOME at a directory only you can write, or make that directory yours alone",
        )


def _cache_dir(target: Path) -> None:
    """The release's directory in the cache, made 0700 (its parents too), checked again once made."""
    make_private_dirs(target)  # another fetch run may make it at the same moment
    _refuse_a_shared_cache(target, checked=target)


def _download(
    session: requests.Session, url: str, target: Path, progress: Callable[[int, int], None] | None
) -> tuple[Path, str]:
    """Into a temporary file in `target`; (that file, its sha256)."""
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target, prefix=".download-", delete=False) as handle:
        download = Path(handle.name)
        try:
            with session.get(url, stream=True, timeout=60) as response:
                if response.status_code != 200:
                    raise OperationError(f"{url} answered HTTP {response.status_code}", "check the mirror")
                total = int(response.headers.get("Content-Length") or 0)
                done = 0
                for chunk in response.iter_content(1 << 20):
                    handle.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        except BaseException:
            download.unlink(missing_ok=True)  # nothing half-downloaded stays in the cache
            raise
    return download, digest.hexdigest()


def _unpack(download: Path, name: str, tool: str, target: Path) -> Path:
    with tarfile.open(download) as archive:
        try:
            extracted = archive.extractfile(archive.getmember(tool))
        except KeyError:
            extracted = None
        if extracted is None:
            raise OperationError(f"{name} holds no {tool} binary", "check the mirror")
        binary = target / tool
        with binary.open("wb") as out:
            shutil.copyfileobj(extracted, out)
        binary.chmod(0o755)
    return binary


# -- oc, for `nodes add` --------------------------------------------------------------------------------


def oc_version(binary: Path) -> str | None:
    """What `<binary> version --client` reports, or None when it does not run."""
    try:
        result = subprocess.run(
            [str(binary), "version", "--client"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = OC_VERSION_LINE.search(result.stdout)
    return match.group(1) if result.returncode == 0 and match else None


def release(version: str) -> tuple[int, int] | None:
    """(major, minor) of an OpenShift version such as 4.19.1 or 4.20.0-rc.2; None when it is not one."""
    match = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True)
class OcBinary:
    """An `oc` new enough for `adm node-image create`, where it was found and what it reports."""

    path: Path
    source: str
    version: str

    @property
    def has_report(self) -> bool:
        """`oc adm node-image create --report` (report.json) exists from 4.18 on."""
        return (release(self.version) or (0, 0)) >= (4, 18)


def find_oc(versions: list[str]) -> OcBinary:
    """`oc` on PATH, else proxshift's cache beside openshift-install of each of `versions` (in order);
    the first that reports 4.17 or later (`adm node-image` came with 4.17)."""
    candidates = [(shutil.which("oc"), "PATH")]
    candidates += [(str(cache_root() / v / "oc"), "cache") for v in dict.fromkeys(versions)]
    looked: list[str] = []
    for found, source in candidates:
        if not found or not Path(found).is_file():
            looked.append("oc on PATH" if source == "PATH" else str(found))
            continue
        if source == "cache" and (unsafe := others_could_replace(Path(found))):
            looked.append(f"{found} (not run: {unsafe})")
            continue
        reported = oc_version(Path(found))
        if reported and (release(reported) or (0, 0)) >= OC_MINIMUM:
            return OcBinary(Path(found), source, reported)
        looked.append(f"{found} ({reported or 'no version'}: 4.17 or later needed)")
    newest = versions[0] if versions else "<version>"
    raise UserInputError(
        f"no oc 4.17 or later found; looked at: {', '.join(looked)}",
        f"run 'proxshift installer fetch {newest} --oc', or put oc on PATH",
    )


def _private(directory: Path) -> None:
    """Everything under the install dir is secret: the watcher token and admin credentials live there."""
    for path in [directory, *directory.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(0o700 if path.is_dir() else 0o600)


def create_image(
    binary: Path,
    install_dir: InstallDir,
    on_line: Callable[[str], None] | None = None,
    timeout: float = INSTALLER_TIMEOUT,
) -> Path:
    """`openshift-install agent create image --dir D`, its output streamed to D/proxshift.log and `on_line`.

    It runs in its own process group, is stopped (and reaped, its children too) after `timeout`
    seconds, on Ctrl-C and on SIGTERM: it never outlives proxshift or the cluster's lock.
    """
    from proxshift.processes import ChildTimedOut, run_streaming

    for manifest in install_dir.manifests:
        if not manifest.is_file():
            raise UserInputError(f"{manifest} is missing", f"run 'proxshift manifests {install_dir.cluster}' first")
    log_path = install_dir.installer_log
    tail: list[str] = []
    argv = [str(binary), "agent", "create", "image", "--dir", str(install_dir.path)]
    with log_path.open("a") as log:
        log_path.chmod(0o600)

        def line(text: str) -> None:
            log.write(text + "\n")
            log.flush()
            tail[:] = [*tail[-9:], text]
            if on_line:
                on_line(text)

        try:
            code = run_streaming(argv, line, timeout)
        except ChildTimedOut:
            log.write(f"proxshift: stopped openshift-install after {timeout:.0f} s (installer_timeout)\n")
            raise OperationError(
                f"openshift-install agent create image did not finish within {_minutes(timeout)}; it was stopped",
                f"see {log_path}; a slow download of the release image may need a longer installer_timeout "
                "in the site config",
            ) from None
        except KeyboardInterrupt:
            log.write("proxshift: interrupted; openshift-install was stopped\n")
            raise
        finally:
            _private(install_dir.path)
    if code != 0:
        raise OperationError(
            f"openshift-install agent create image failed (exit {code}):\n  " + "\n  ".join(tail),
            f"see {log_path}",
        )
    missing = [install_dir.shown(p) for p in install_dir.image_outputs if not p.exists()]
    if missing:
        raise OperationError(f"openshift-install finished but {', '.join(missing)} did not appear", f"see {log_path}")
    return install_dir.iso


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def watcher_token(install_dir: InstallDir) -> str | None:
    """The assisted-service watcher token from .openshift_install_state.json (4.18+), if any."""
    import json

    try:
        state = json.loads(install_dir.installer_state.read_text())
    except (OSError, ValueError):
        return None
    value = (state.get("*gencrypto.AuthConfig") or {}).get("WatcherAuthToken")
    return str(value) if value else None
