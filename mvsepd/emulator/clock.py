"""Time for the emulator: the clock type and a manual clock tests can move forward.

Everything time-dependent in the emulator (queue, processing, 72-hour retention, rate-limit
windows, hash time stamps) reads one injected callable returning epoch seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    """Real time, epoch seconds."""
    return time.time()


class ManualClock:
    """A clock that only moves when told to. Thread-safe.

    Starts at ``start`` (epoch seconds; default: the real time when it is created).
    """

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (not negative) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to ``now``; it must not be earlier than the current time."""
        with self._lock:
            if now < self._now:
                raise ValueError("a clock does not go backwards")
            self._now = now
