"""PVE property strings (`virtio=BC:24:11:42:BE:F4,bridge=vmbr0,tag=42`): split and join.

The first part is the head, PVE's default key written without its name: the volume of a disk
(`local-lvm:100`), the model and MAC of a NIC (`virtio=MAC`), `none` for an empty CD drive.
"""

from __future__ import annotations

from collections.abc import Mapping


def split_options(value: str) -> tuple[str, dict[str, str]]:
    """`virtio=MAC,bridge=vmbr0,tag=42` -> ('virtio=MAC', {'bridge': 'vmbr0', 'tag': '42'})."""
    head, *rest = str(value).split(",")
    options: dict[str, str] = {}
    for part in rest:
        name, _, option = part.partition("=")
        options[name] = option
    return head, options


def join_options(head: str, options: Mapping[str, object | None]) -> str:
    """The inverse of split_options, in the options' order; None values are left out."""
    return ",".join([head, *(f"{name}={value}" for name, value in options.items() if value is not None)])


def option(value: str, name: str) -> str | None:
    """One option of a property string (never the head), or None."""
    return split_options(value)[1].get(name)
