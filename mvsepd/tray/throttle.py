"""Icon update throttling (pure): at most a few updates a second, the latest one always shown.

Several backends write a file per icon change (AppIndicator and GTK a temporary PNG, Windows an
icon file), and a flood of updates makes panels flicker; so a change is shown at once when the
last one is old enough, else after the remainder of the interval, and only the newest pending
view is shown then.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: At most this many icon updates a second.
UPDATES_PER_SECOND = 4


class Throttle:
    """Says how long to wait before the next update may be shown."""

    def __init__(
        self,
        min_interval: float = 1.0 / UPDATES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._last: float | None = None

    def delay(self) -> float:
        """Seconds until an update may be shown (0 when it may be shown now)."""
        if self._last is None:
            return 0.0
        return max(0.0, self._last + self.min_interval - self._clock())

    def shown(self) -> None:
        """Record that an update was shown now."""
        self._last = self._clock()
