"""What every client shares about talking to a remote: transport failures as one-line errors, polling."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from proxshift.errors import OperationError, ProxshiftError

T = TypeVar("T")


@contextmanager
def transport_errors(service: str, where: str, doing: str, tls_hint: str, reach_hint: str) -> Iterator[None]:
    import requests

    try:
        yield
    except ProxshiftError:
        raise
    except requests.exceptions.SSLError:
        raise OperationError(f"TLS verification of {service} at {where} failed while {doing}", tls_hint) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
        raise OperationError(f"{service} at {where} is unreachable while {doing}", reach_hint) from None


@dataclass
class Poller:
    """Ask again until there is an answer or the deadline passes, waiting a little longer each time.

    The first pause is `first` (things usually happen fast), each next one `factor` times longer, never
    longer than `cap`; `first=None` polls at a fixed interval of `cap`. `cap` may be changed between
    attempts (the install watcher polls faster in its last stage). The clock and sleep are injectable,
    so tests run any timeline instantly.
    """

    timeout: float
    cap: float
    first: float | None = 0.05
    factor: float = 2.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def until(self, check: Callable[[], T], on_miss: Callable[[], None] | None = None) -> T | None:
        """`check`'s first truthy answer; None once `timeout` seconds passed without one.

        `check` runs at least once, and once more after the deadline if a pause ends past it;
        `on_miss` runs after each attempt without an answer (progress lines, say).
        """
        deadline = self.clock() + self.timeout
        pause: float | None = None
        while True:
            answer = check()
            if answer:
                return answer
            if on_miss is not None:
                on_miss()
            if self.clock() > deadline:
                return None
            if pause is None:
                pause = self.cap if self.first is None else self.first
            else:
                pause *= self.factor
            pause = min(pause, self.cap)
            self.sleep(pause)
