"""`proxshift installer fetch` from a mirror served on loopback: checksum match, mismatch, wrong version."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxshift.lab.fake_installer import install_fake
from tests.conftest import CliRunner


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Path]:
    """A directory served over HTTP on a port the OS picks; yields the directory, the URL is in .url."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    (root / ".url").write_text(f"http://127.0.0.1:{server.server_address[1]}")
    yield root
    server.shutdown()


def _publish(mirror: Path, version: str, reports: str, tmp_path: Path, corrupt: bool = False) -> None:
    binary = install_fake(tmp_path / f"build-{version}-{reports}", reports, tmp_path / "state")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(binary, arcname="openshift-install")
        readme = b"fake release\n"
        info = tarfile.TarInfo("README.md")
        info.size = len(readme)
        archive.addfile(info, io.BytesIO(readme))
    data = buffer.getvalue()
    (mirror / version).mkdir()
    (mirror / version / "openshift-install-linux.tar.gz").write_bytes(data + (b"x" if corrupt else b""))
    digest = hashlib.sha256(data).hexdigest()
    (mirror / version / "sha256sum.txt").write_text(
        f"{'0' * 64}  openshift-client-linux.tar.gz\n{digest}  openshift-install-linux.tar.gz\n"
    )


def test_fetch_verifies_and_caches(mirror: Path, tmp_path: Path, cli: CliRunner, isolated_env: Path) -> None:
    _publish(mirror, "4.19.1", "4.19.1", tmp_path)
    result = cli("installer", "fetch", "4.19.1", "--mirror", (mirror / ".url").read_text())
    assert result.code == 0, result.err
    cached = isolated_env / ".cache" / "proxshift" / "openshift-install" / "4.19.1" / "openshift-install"
    assert cached.is_file() and cached.stat().st_mode & 0o111
    assert "verified" in result.err
    from proxshift.clients.installer import find_installer

    assert find_installer("4.19.1", None).path == cached


def test_checksum_mismatch_keeps_nothing(mirror: Path, tmp_path: Path, cli: CliRunner, isolated_env: Path) -> None:
    _publish(mirror, "4.19.1", "4.19.1", tmp_path, corrupt=True)
    result = cli("installer", "fetch", "4.19.1", "--mirror", (mirror / ".url").read_text())
    assert result.code == 1
    assert "checksum mismatch for openshift-install-linux.tar.gz" in result.err
    cache = isolated_env / ".cache" / "proxshift" / "openshift-install" / "4.19.1"
    assert list(cache.iterdir()) == []


def test_binary_of_another_version_is_rejected(
    mirror: Path, tmp_path: Path, cli: CliRunner, isolated_env: Path
) -> None:
    _publish(mirror, "4.19.1", "4.18.7", tmp_path)
    result = cli("installer", "fetch", "4.19.1", "--mirror", (mirror / ".url").read_text())
    assert result.code == 1
    assert "reports 4.18.7, not 4.19.1" in result.err
    assert not (isolated_env / ".cache" / "proxshift" / "openshift-install" / "4.19.1" / "openshift-install").exists()


def test_missing_release_on_the_mirror(mirror: Path, cli: CliRunner) -> None:
    result = cli("installer", "fetch", "4.99.0", "--mirror", (mirror / ".url").read_text())
    assert result.code == 1
    assert "sha256sum.txt answered HTTP 404" in result.err


def test_predecessor_installer_dir_convention(tmp_path: Path) -> None:
    from proxshift.clients.installer import find_installer

    install_fake(tmp_path, "4.19.1", tmp_path / "state", name="openshift-install-4.19.1")
    installer = find_installer("4.19.1", str(tmp_path))
    assert (installer.path, installer.source) == (tmp_path / "openshift-install-4.19.1", "ocp_installer_path")


def _publish_oc(mirror: Path, version: str, tmp_path: Path) -> None:
    from proxshift.lab.fake_oc import install_fake_oc

    binary = install_fake_oc(tmp_path / f"oc-build-{version}", version)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(binary, arcname="oc")
        archive.add(binary, arcname="kubectl")
    data = buffer.getvalue()
    (mirror / version).mkdir(exist_ok=True)
    (mirror / version / "openshift-client-linux.tar.gz").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    (mirror / version / "sha256sum.txt").write_text(
        f"{'0' * 64}  openshift-client-linux-{version}.tar.gz\n{digest}  openshift-client-linux.tar.gz\n"
        f"{'1' * 64}  openshift-install-linux.tar.gz\n"
    )


def test_fetch_oc_beside_the_installer(
    mirror: Path, tmp_path: Path, cli: CliRunner, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxshift.clients.installer import find_oc

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no oc of the machine's
    _publish_oc(mirror, "4.19.1", tmp_path)
    result = cli("installer", "fetch", "4.19.1", "--oc", "--mirror", (mirror / ".url").read_text())
    assert result.code == 0, result.err
    cached = isolated_env / ".cache" / "proxshift" / "openshift-install" / "4.19.1" / "oc"
    assert cached.is_file() and cached.stat().st_mode & 0o111
    assert "oc 4.19.1 verified and stored at" in result.err
    found = find_oc(["4.20.2", "4.19.1"])
    assert (found.path, found.source, found.version, found.has_report) == (cached, "cache", "4.19.1", True)


def test_an_oc_older_than_4_17_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proxshift.clients.installer import find_oc
    from proxshift.errors import UserInputError
    from proxshift.lab.fake_oc import install_fake_oc

    install_fake_oc(tmp_path / "bin", "4.16.9")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(UserInputError, match=r"no oc 4.17 or later found.*\(4.16.9: 4.17 or later needed\)") as raised:
        find_oc(["4.19.1"])
    assert raised.value.hint == "run 'proxshift installer fetch 4.19.1 --oc', or put oc on PATH"
    install_fake_oc(tmp_path / "bin", "4.17.3")
    found = find_oc(["4.19.1"])
    assert (found.source, found.has_report) == ("PATH", False)


def test_a_cached_program_others_could_have_replaced_is_not_run(
    mirror: Path, tmp_path: Path, cli: CliRunner, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxshift.clients.installer import find_installer, find_oc
    from proxshift.errors import UserInputError
    from proxshift.lab.fake_oc import install_fake_oc

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # only the cache's programs
    _publish(mirror, "4.19.1", "4.19.1", tmp_path)
    assert cli("installer", "fetch", "4.19.1", "--mirror", (mirror / ".url").read_text()).code == 0
    release = isolated_env / ".cache" / "proxshift" / "openshift-install" / "4.19.1"
    assert release.stat().st_mode & 0o777 == 0o700  # made private, whatever the umask
    install_fake_oc(release, "4.19.1")
    assert find_installer("4.19.1", None).source == "cache" and find_oc(["4.19.1"]).source == "cache"
    release.chmod(0o777)  # anyone could have swapped the programs in there
    with pytest.raises(UserInputError, match=r"openshift-install is not run: .*4\.19\.1 can be changed by other users"):
        find_installer("4.19.1", None)
    with pytest.raises(UserInputError, match=r"oc \(not run: .*4\.19\.1 can be changed by other users\)"):
        find_oc(["4.19.1"])
    release.chmod(0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    elsewhere.chmod(0o777)
    (release / "oc").rename(elsewhere / "oc")
    (release / "oc").symlink_to(elsewhere / "oc")  # the link is safe where it is, not where it leads
    with pytest.raises(UserInputError, match=r"oc \(not run: .*elsewhere can be changed by other users\)"):
        find_oc(["4.19.1"])
    elsewhere.chmod(0o755)
    assert find_oc(["4.19.1"]).path == release / "oc"  # a link into a safe place is fine


def test_fetch_refuses_a_cache_other_users_can_write(
    mirror: Path, tmp_path: Path, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky: another user could rename proxshift's directory away and put theirs
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    _publish(mirror, "4.19.1", "4.19.1", tmp_path)
    result = cli("installer", "fetch", "4.19.1", "--mirror", (mirror / ".url").read_text())
    assert result.code == 2, result.err
    assert f"{shared} can be changed by other users" in result.err
    assert "XDG_CACHE_HOME" in result.err
    assert list(shared.iterdir()) == []  # refused before anything was fetched or made
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (shared / "cache").symlink_to(private)  # the link itself lies in the directory others can write
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared / "cache"))
    result = cli("installer", "fetch", "4.19.1", "--mirror", (mirror / ".url").read_text())
    assert result.code == 2, result.err
    assert f"{shared} can be changed by other users" in result.err
    assert list(private.iterdir()) == []


def test_a_cache_directory_another_fetch_makes_at_the_same_moment_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `installer fetch` runs (openshift-install in one shell, `--oc` in another, or two CI jobs) may both
    find the release's directory missing and both make it: the second uses it, not fail on 'File exists'."""
    from proxshift.clients import installer

    target = tmp_path / "cache" / "4.19.1"
    looked: list[Path] = []

    def made_meanwhile(path: Path) -> bool:
        looked.append(path)
        if path == target:
            target.mkdir(mode=0o700)  # the other fetch, between this one's look and its mkdir
        return path != target and path.is_dir()

    monkeypatch.setattr(installer.Path, "exists", made_meanwhile)
    installer._cache_dir(target)
    assert target in looked and target.is_dir()
