"""The lab's fault knobs as data: parsing what `lab up` takes, refusing what fakepve would not play."""

from __future__ import annotations

import pytest

from proxshift.lab.faults import LabFaults, PveFailure, parse_size


def test_failure_specs_parse_and_print_back() -> None:
    named = PveFailure.parse("post /nodes/pve2/qemu/301/status/start times=2 already_running")
    assert named == PveFailure("POST", "/nodes/pve2/qemu/301/status/start", error="already_running", times=2)
    own = PveFailure.parse("POST /nodes/pve4/qemu 500 unable to create VM - got timeout")
    assert (own.status, own.message, own.error) == (500, "unable to create VM - got timeout", None)
    assert PveFailure.parse(str(own)) == own
    assert PveFailure.parse(str(named)) == named


@pytest.mark.parametrize(
    "text",
    [
        "POST /nodes/pve1/qemu",
        "FETCH /nodes/pve1/qemu 500 boom",
        "POST nodes/pve1/qemu 500 boom",
        "POST /nodes/pve1/qemu 500",
        "POST /nodes/pve1/qemu times=x 500 boom",
        "POST /nodes/pve1/qemu two words",
    ],
)
def test_bad_failure_specs_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|needs a message"):
        PveFailure.parse(text)


def test_unknown_error_names_list_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"no PVE error 'bogus'; known: .*already_running"):
        LabFaults(pve_failures=(PveFailure.parse("POST /nodes/pve1/qemu/301/status/start bogus"),)).check()
    with pytest.raises(ValueError, match="knows no PVE errors here"):
        LabFaults(pve_failures=(PveFailure.parse("GET /not/an/api/path boom"),)).check()
    with pytest.raises(ValueError, match="not an HTTP error status"):
        LabFaults(pve_failures=(PveFailure("GET", "/nodes", status=200, message="fine"),)).check()


def test_nodes_storages_and_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="node pve9 is not in the lab; it has pve1, pve2"):
        LabFaults(offline_nodes=("pve9",)).check({"pve1", "pve2"}, set())
    with pytest.raises(ValueError, match="storage nas is not in the lab"):
        LabFaults(storage_avail={"nas": 1}).check(set(), {"local"})
    with pytest.raises(ValueError, match="drop rate must be between 0 and 1"):
        LabFaults(drop_rate=1.5).check()


def test_sizes_and_round_trip() -> None:
    assert parse_size("400G") == 400 * 1024**3
    assert parse_size("1.5T") == int(1.5 * 1024**4)
    assert parse_size("1000") == 1000
    assert parse_size("2GiB") == 2 * 1024**3
    with pytest.raises(ValueError, match="is not a size"):
        parse_size("lots")
    faults = LabFaults(
        pve_failures=(PveFailure("POST", "/nodes/pve4/qemu", status=500, message="boom", times=1),),
        storage_avail={"your_nfs": 1000},
        drop_rate=0.2,
        seed=3,
        offline_nodes=("pve4",),
    )
    assert LabFaults.from_dict(faults.to_dict()) == faults
    assert faults.any and not LabFaults().any
    assert faults.describe() == [
        "request fails: POST /nodes/pve4/qemu times=1 500 boom",
        "storage your_nfs: 1000 bytes available",
        "flaky network: drops 20%, hangs 0% for 120 s",
        "node pve4 offline",
    ]
