"""What happens to a cluster after its install: post_install settings, hooks, node labels, per cluster.

The site config sets them for every cluster; a cluster's inventory vars override them key by key
(`post_install.<key>`, `hooks.<before|after>.<phase>`, `hook_timeout`); a host's `node_labels` add to
(and win over) the cluster's `post_install.node_labels`. Strings may refer to per-cluster names
(`{{ cluster_name }}`), filled in when the hook runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from proxshift.config.durations import parse_duration
from proxshift.config.model_errors import closest, join_location
from proxshift.errors import Problem, UserInputError

# The phases of the flow, in order. engine/phases/flow.py's PHASES is the list itself (config imports
# no engine); tests/unit/test_flow.py keeps the two equal. Hooks may only name these.
PHASE_NAMES = (
    "preflight",
    "secrets",
    "manifests",
    "iso",
    "upload",
    "vms",
    "start",
    "wait",
    "credentials",
    "acm",
    "labels",
    "storage",
    "health",
)
# The names a hook's arguments (and post_install strings) may refer to, filled in per cluster and phase.
HOOK_NAMES = ("cluster_name", "phase", "root", "install_dir", "base_domain")
REFERENCE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
# Kubernetes' label syntax (apimachinery validation: IsQualifiedName, IsValidLabelValue).
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_FIX = (
    "a label key is [prefix/]name: name at most 63 letters, digits, '-', '_' or '.', starting and ending "
    'alphanumeric; prefix a DNS subdomain; the value is empty or like name (quote it: "true", "1")'
)


def _duration(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except UserInputError as exc:
            raise ValueError(f"{exc.message} ({exc.hint})") from None
    return value


Duration = Annotated[float, BeforeValidator(_duration), Field(gt=0)]
Argv = Annotated[list[str], Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostInstall(_Model):
    """`post_install`: what the labels and storage phases apply once the cluster is installed."""

    node_labels: dict[str, str] = Field(default_factory=dict)
    default_storage_class: str | None = None
    storage_class_timeout: Duration = 600.0
    node_timeout: Duration = 900.0


class Hooks(_Model):
    """`hooks`: argument lists run before or after a phase, by phase name."""

    before: dict[str, list[Argv]] = Field(default_factory=dict)
    after: dict[str, list[Argv]] = Field(default_factory=dict)


DEFAULT_HOOK_TIMEOUT = 600.0


def merge_post_install(defaults: PostInstall, own: PostInstall | None) -> PostInstall:
    """The site config's post_install with a cluster's keys over it."""
    if own is None:
        return defaults
    return defaults.model_copy(update={key: getattr(own, key) for key in own.model_fields_set})


def merge_hooks(defaults: Hooks, own: Hooks | None) -> Hooks:
    """The site config's hooks with a cluster's `hooks.<when>.<phase>` over them."""
    if own is None:
        return defaults
    return Hooks(before={**defaults.before, **own.before}, after={**defaults.after, **own.after})


def fill(text: str, values: Mapping[str, str]) -> str:
    """`{{ name }}` replaced by its value (names checked by `hook_problems` beforehand)."""
    return REFERENCE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


# -- checks ----------------------------------------------------------------------------------------------


def label_problems(labels: Mapping[str, Any], file: str, where: str) -> Iterator[Problem]:
    """Each label whose key or value Kubernetes would refuse."""
    for key, value in labels.items():
        prefix, _, name = str(key).rpartition("/")
        bad_key = (
            not _LABEL_NAME.fullmatch(name)
            or len(name) > 63
            or ("/" in str(key) and (not _DNS_SUBDOMAIN.fullmatch(prefix) or len(prefix) > 253))
        )
        if bad_key:
            yield Problem(file, join_location(where, str(key)), f"'{key}' is not a valid label key", LABEL_FIX)
        elif not isinstance(value, str) or (value and (not _LABEL_NAME.fullmatch(value) or len(value) > 63)):
            yield Problem(
                file, join_location(where, str(key)), f"{value!r} is not a valid label value for '{key}'", LABEL_FIX
            )


def hook_problems(hooks: Hooks, file: str, where: str) -> Iterator[Problem]:
    """A hook of a phase that does not exist, or an argument naming something that has no value."""
    for when, by_phase in (("before", hooks.before), ("after", hooks.after)):
        for phase, commands in by_phase.items():
            location = join_location(where, when, phase)
            if phase not in PHASE_NAMES:
                guess = closest(phase, PHASE_NAMES)
                yield Problem(
                    file,
                    location,
                    f"'{phase}' is not a phase",
                    (f"did you mean '{guess}'? " if guess else "") + "phases: " + ", ".join(PHASE_NAMES),
                )
            for index, argv in enumerate(commands):
                for name in {m.group(1) for arg in argv for m in REFERENCE.finditer(arg)} - set(HOOK_NAMES):
                    yield Problem(
                        file,
                        join_location(location, str(index)),
                        f"refers to '{{{{ {name} }}}}', which a hook has no value for",
                        "use one of: " + ", ".join(f"{{{{ {n} }}}}" for n in HOOK_NAMES),
                    )
