"""fakepve, with one deviation from real PVE corrected for the lab and the tests, and uploads remembered."""

from __future__ import annotations

from typing import Any

from fakepve import FakePve

ISO_HEAD = 64 * 1024  # what the lab keeps of an uploaded ISO: the stand-in ISOs carry their data up front


class LabPve(FakePve):  # type: ignore[misc]
    """Destroying a VM leaves ISO images alone, as real PVE does (fakepve 0.5 frees a VM's cdrom volume too).

    The start of each uploaded ISO is kept in `iso_heads[(storage, file name)]`: a VM booted from a
    stand-in add-nodes ISO is identified by what that ISO says (lab/join_sim.py), as a real host reads
    its own ISO.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.iso_heads: dict[tuple[str, str], bytes] = {}

    def _qm_free(self, volid: Any) -> None:
        if ":iso/" in str(volid):
            return
        super()._qm_free(volid)

    def store_file(self, storage: str, name: str, size: int, content: str = "iso") -> None:
        super().store_file(storage, name, size, content)
        # fakepve keeps the fields of the upload it is storing in `uploaded` (the file's bytes in 'data').
        uploaded = getattr(self, "uploaded", None) or {}
        if content == "iso" and uploaded.get("filename") == name:
            self.iso_heads[(storage, name)] = bytes(uploaded.get("data") or b"")[:ISO_HEAD]
