"""clients/proxmox/tasks.py: waits for tasks started together poll at spread moments, and one's end wakes the rest."""

from __future__ import annotations

import threading

from proxshift.clients.proxmox.tasks import Waits, offset


def test_a_task_waited_for_alone_polls_as_it_always_did() -> None:
    assert offset(0, 0.5) == 0


def test_the_waits_in_flight_poll_at_spread_moments() -> None:
    moments = sorted(offset(place, 0.5) for place in range(6))
    assert len(set(moments)) == 6
    assert all(0 <= m < 0.5 for m in moments)
    gaps = [b - a for a, b in zip(moments, [*moments[1:], moments[0] + 0.5], strict=True)]
    assert max(gaps) < 0.5 / 3  # no two thirds of the interval without a poll


def _sleeper(waits: Waits, seconds: float) -> tuple[threading.Thread, list[bool]]:
    _, seen = waits.enter()
    woken: list[bool] = []
    thread = threading.Thread(target=lambda: woken.append(waits.sleep(seconds, seen)))
    thread.start()
    return thread, woken


def test_the_end_of_another_task_wakes_a_sleeping_wait() -> None:
    waits = Waits()
    thread, woken = _sleeper(waits, 60)
    waits.enter()
    waits.leave(ended=True)
    thread.join(10)
    assert not thread.is_alive()
    assert woken == [True]


def test_an_end_since_the_wait_began_wakes_it_at_once() -> None:
    waits = Waits()
    _, seen = waits.enter()
    waits.enter()
    waits.leave(ended=True)
    assert waits.sleep(60, seen) is True


def test_a_wait_that_gave_up_wakes_nobody() -> None:
    waits = Waits()
    thread, woken = _sleeper(waits, 0.2)
    waits.enter()
    waits.leave(ended=False)
    thread.join(10)
    assert woken == [False]


def test_the_places_of_waits_in_flight() -> None:
    waits = Waits()
    assert [waits.enter()[0] for _ in range(3)] == [0, 1, 2]
    waits.leave(ended=True)
    assert waits.enter() == (2, 1)
