"""Laravel-style request throttling per client IP and route group.

Laravel's ``ThrottleRequests`` counts hits in a fixed window that opens with the first hit and
lasts ``decay`` seconds; every answer carries ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining``;
past the limit it answers 429 ``{"message":"Too Many Attempts."}`` with ``Retry-After`` and
``X-RateLimit-Reset`` and does not count the refused hit [INF: Laravel's behaviour; the header
values 60 / 120 are REC]. Groups: 60 per window for separation/get, app/algorithms and
app/register, 120 for the rest [REC].
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable

STRICT_PATHS = frozenset({"/api/separation/get", "/api/app/algorithms", "/api/app/register"})


@dataclasses.dataclass(frozen=True)
class Decision:
    """The outcome of one hit: allowed or not, and the headers to send."""

    allowed: bool
    headers: dict[str, str]


@dataclasses.dataclass
class _Window:
    opened_at: float
    hits: int


class RateLimiter:
    """Fixed windows keyed by (client IP, group). Thread-safe."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        strict_limit: int,
        default_limit: int,
        window_seconds: float,
        enforce: bool,
    ) -> None:
        self._clock = clock
        self._strict = strict_limit
        self._default = default_limit
        self._window = window_seconds
        self._enforce = enforce
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = {}

    def hit(self, client: str, path: str) -> Decision:
        """Count a request to ``path`` from ``client``."""
        group = "strict" if path in STRICT_PATHS else "default"
        limit = self._strict if group == "strict" else self._default
        now = self._clock()
        with self._lock:
            window = self._windows.get((client, group))
            if window is None or now >= window.opened_at + self._window:
                window = _Window(opened_at=now, hits=0)
                self._windows[(client, group)] = window
            reset_at = window.opened_at + self._window
            if window.hits >= limit and self._enforce:
                retry_after = max(1, math.ceil(reset_at - now))
                return Decision(
                    allowed=False,
                    headers={
                        "X-RateLimit-Limit": str(limit),
                        "X-RateLimit-Remaining": "0",
                        "Retry-After": str(retry_after),
                        "X-RateLimit-Reset": str(math.ceil(reset_at)),
                    },
                )
            window.hits += 1
            remaining = max(0, limit - window.hits)
            return Decision(
                allowed=True,
                headers={"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)},
            )
