"""Spacing every job's status polls so that together they stay under MVSEP's rate limit.

MVSEP's throttle allows 60 ``separation/get`` requests a minute per client (its recorded
``X-RateLimit-Limit``); a 429 asks to wait (``Retry-After``, honoured by the transport). A job
close to finishing is looked at every two seconds, so two such jobs alone would use the whole
allowance. ``PollBudget`` hands out the moments of the next polls: the one asked for, or the
first later one at which fewer than ``per_minute`` polls are planned within the minute before.
"""

from __future__ import annotations

import bisect
import threading

#: Status polls planned per minute over all jobs: MVSEP's 60, less room for the other
#: ``separation/get`` requests (a download's fresh look, a cancel's, a retry's).
POLLS_PER_MINUTE = 50
_WINDOW = 60.0


class PollBudget:
    """The planned poll moments of the last minute and the next (see the module docstring)."""

    def __init__(self, per_minute: int = POLLS_PER_MINUTE, *, minute: float = _WINDOW) -> None:
        """``minute``: the length of the window (60 s; shorter where tests and benchmarks
        scale every interval down)."""
        self._per_minute = per_minute
        self._window = minute
        self._planned: list[float] = []
        self._lock = threading.Lock()

    def reserve(self, wanted: float) -> float:
        """Plan a poll at ``wanted`` or, if the minute before it is full, at the first moment
        after that has room; return the moment planned."""
        with self._lock:
            planned = self._planned
            window = self._window
            del planned[: bisect.bisect_left(planned, wanted - 2 * window)]
            moment = wanted
            while True:
                # Polls planned in (moment - window, moment]: full means move past the first.
                first = bisect.bisect_right(planned, moment - window)
                last = bisect.bisect_right(planned, moment)
                if last - first < self._per_minute:
                    break
                moment = planned[first] + window
            bisect.insort(planned, moment)
            return moment
