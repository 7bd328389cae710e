"""fakepve, with one deviation from real PVE corrected for the lab and the tests."""

from __future__ import annotations

from typing import Any

from fakepve import FakePve


class LabPve(FakePve):  # type: ignore[misc]
    """Destroying a VM leaves ISO images alone, as real PVE does (fakepve 0.5 frees a VM's cdrom volume too)."""

    def _qm_free(self, volid: Any) -> None:
        if ":iso/" in str(volid):
            return
        super()._qm_free(volid)
