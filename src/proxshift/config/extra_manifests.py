"""Extra install manifests: `<root>/manifests/<cluster>/*.yaml|*.yml`, checked before anything runs.

The agent installer applies whatever it finds in `<install dir>/openshift/` at install time; each
document there must at least be a Kubernetes object (apiVersion, kind, metadata.name), and a key
written twice is refused (YAML would silently keep the last one).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from proxshift.config.yamlio import YamlSyntaxError, parse_yaml_documents
from proxshift.errors import InvalidInput, Problem, UserInputError

if TYPE_CHECKING:
    from proxshift.config.inventory import Cluster
    from proxshift.config.paths import Paths

SUFFIXES = (".yaml", ".yml")
FIX = "every document needs apiVersion, kind and metadata.name (see docs/manifests.md)"


def extra_manifests(directory: Path) -> list[Path]:
    """The manifest files of a directory, by name; none when it does not exist."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in SUFFIXES)


def extra_manifest_problems(paths: Paths, cluster: Cluster) -> list[Problem]:
    """Every problem of the cluster's extra manifests; a named directory that is missing is one too."""
    directory = cluster.extra_manifests_dir(paths.root)
    if cluster.vars.extra_manifests_dir and not directory.is_dir():
        return [
            Problem(
                paths.shown(paths.inventory),
                cluster.where("extra_manifests_dir"),
                f"names {directory}, which is not a directory",
                "create it, or correct the path (relative to the root)",
            )
        ]
    problems: list[Problem] = []
    for path in extra_manifests(directory):
        problems += check_manifest(path, paths.shown(path))
    return problems


def check_manifest(path: Path, shown: str) -> list[Problem]:
    """One file's problems: it parses, no key twice, and each document is a named Kubernetes object."""
    try:
        documents = parse_yaml_documents(path.read_text(encoding="utf-8"), shown)
    except InvalidInput as exc:
        return exc.problems
    except YamlSyntaxError as exc:
        return [Problem(shown, "", exc.problem, exc.hint or "", line=exc.line)]
    except UserInputError as exc:
        return [Problem(shown, "", exc.message.removeprefix(f"{shown}: "), exc.hint or "")]
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(shown, "", f"cannot be read as UTF-8 text ({exc})", "save it as UTF-8")]
    problems = []
    for index, (document, line) in enumerate(documents):
        where = f"document {index + 1}" if len(documents) > 1 else ""
        if not isinstance(document, dict):
            problems.append(Problem(shown, where, "is not a mapping (a Kubernetes object)", FIX, line=line))
            continue
        metadata = document.get("metadata")
        missing = [key for key in ("apiVersion", "kind") if not isinstance(document.get(key), str)]
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            missing.append("metadata.name")
        if missing:
            problems.append(Problem(shown, where, f"has no {', '.join(missing)}", FIX, line=line))
    if not documents:
        problems.append(Problem(shown, "", "holds no document", "remove the empty file, or write the manifest in it"))
    return problems
