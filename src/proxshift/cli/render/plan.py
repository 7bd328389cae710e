"""The dry-run plan as text: `== phase` per section, then what it would read, write or change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from proxshift.engine.phases.base import PhasePlan


def plan_text(plans: list[PhasePlan]) -> str:
    """`== phase` per section, then its details: VMs one per line, manifests and hub documents as YAML."""
    out: list[str] = []
    for plan in plans:
        out.append(f"== {plan.phase}{' (done before)' if plan.previously_done else ''}")
        for key, value in plan.details.items():
            out.extend(_detail(key, value))
    return "".join(f"{line}\n" for line in out)


def _detail(key: str, value: Any) -> list[str]:
    lines: list[str] = []
    if key == "manifests":
        for name, text in value.items():
            lines += [f"  {name}:", *(f"    {line}" for line in text.splitlines())]
    elif key == "vms":
        for vm in value:
            lines += _vm_lines(vm)
    elif key == "documents":
        import yaml

        for document in value:
            lines += ["  ---", *(f"  {line}" for line in yaml.safe_dump(document, sort_keys=False).splitlines())]
    elif isinstance(value, list):
        lines += [f"  {key}:", *(f"    - {item}" for item in value)]
    else:
        lines.append(f"  {key}: {value}")
    return lines


def _vm_lines(vm: str | dict[str, Any]) -> list[str]:
    if isinstance(vm, str):  # the start phase names the VMs it starts
        return [f"  start {vm}"]
    lines = [f"  {vm['action']:<10} {vm['host']} (vmid {vm['vmid']} on {vm['node']}): {vm['reason']}"]
    lines.extend(f"             {difference}" for difference in vm["drift"])
    if vm["action"] in ("create", "recreate"):
        lines.extend(f"             {k}={v}" for k, v in vm["params"].items())
    return lines
