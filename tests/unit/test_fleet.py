"""engine/fleet.py: the exit code of several runs is the worst of them."""

from __future__ import annotations

from proxshift.engine.fleet import worst


def test_the_worst_ending_wins() -> None:
    assert worst([]) == 0
    assert worst([0, 0]) == 0
    assert worst([0, 2]) == 2  # refused: nothing was changed
    assert worst([2, 1, 0]) == 1  # a failure is worse than a refusal, though its code is lower
    assert worst([1, 5]) == 5
    assert worst([5, 6, 1]) == 6
    assert worst([6, 130, 0]) == 130  # interrupted: the user stopped the lot
    assert worst([0, 3]) == 3  # an unknown code counts as a failure
