"""Poller: deadline, backoff and cap on a fake clock, so every timeline runs instantly."""

from __future__ import annotations

from proxshift.clients.transport import Poller


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def _poller(clock: FakeClock, timeout: float, cap: float, first: float | None = 0.05) -> Poller:
    return Poller(timeout, cap=cap, first=first, clock=clock, sleep=clock.sleep)


def test_an_answer_at_once_means_no_pause() -> None:
    clock = FakeClock()
    assert _poller(clock, 10, 1).until(lambda: "done") == "done"
    assert clock.pauses == []


def test_pauses_double_up_to_the_cap() -> None:
    clock = FakeClock()
    answers = iter([None] * 6 + ["ready"])
    assert _poller(clock, 60, 0.5).until(lambda: next(answers)) == "ready"
    assert clock.pauses == [0.05, 0.1, 0.2, 0.4, 0.5, 0.5]


def test_a_fixed_interval_without_first() -> None:
    clock = FakeClock()
    answers = iter([0, 0, 0, 7])
    assert _poller(clock, 60, 5, first=None).until(lambda: next(answers)) == 7
    assert clock.pauses == [5, 5, 5]


def test_gives_up_after_the_deadline_with_one_last_look() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def never() -> bool:
        calls.append(clock.now)
        return False

    assert _poller(clock, 10, 3, first=None).until(never) is None
    assert calls == [0, 3, 6, 9, 12]  # the look at 12 s is past the deadline: then it gives up
    assert clock.now == 12


def test_on_miss_runs_after_each_unanswered_attempt() -> None:
    clock = FakeClock()
    answers = iter([None, None, "x"])
    misses: list[float] = []
    _poller(clock, 10, 1).until(lambda: next(answers), lambda: misses.append(clock.now))
    assert misses == [0, 0.05]


def test_the_cap_may_change_between_attempts() -> None:
    clock = FakeClock()
    poller = _poller(clock, 100, 5, first=None)
    seen = 0

    def check() -> bool:
        nonlocal seen
        seen += 1
        if seen == 2:
            poller.cap = 2  # the last stage polls faster
        return seen == 4

    assert poller.until(check)
    assert clock.pauses == [5, 2, 2]
