"""Fault injection: which faults are armed, for which endpoints, how often, how many times.

A fault fires with probability ``rate`` (drawn from a generator seeded by the settings, so runs
are reproducible), only on its endpoints, and at most ``count`` times when a count is given (then
it disarms itself). Faults and what they do:

- ``http_502``: an HTML 502 page (as a proxy in front of the application would send).
- ``http_503``: a plain-text 503 body.
- ``drop_connection``: the socket is closed without any HTTP response.
- ``slow``: the answer is delayed (``delay_seconds``, default from the settings).
- ``malformed_json``: a 200 whose JSON body is cut short.
- ``http_429``: Laravel's ``{"message":"Too Many Attempts."}`` with ``Retry-After``.
- ``invalid_token``: the request's token turns invalid, for this and every later request.
- ``lost_response``: the request is carried out (a create creates and charges the job), then the
  connection is dropped before the answer. Default endpoint: create.
- ``success_string``: ``"success":"true"`` (a string) in the create answer. Default: create.
- ``job_failed``: the created job ends ``failed`` with a message. Default: create.
- ``slow_publish``: the created job, once ``done``, takes minutes to publish its stems
  (``delay_seconds``, default ``slow_publish_seconds`` of the settings). Default: create.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterable

CREATE_PATH = "/api/separation/create"

FAULT_NAMES = (
    "http_502",
    "http_503",
    "drop_connection",
    "slow",
    "malformed_json",
    "http_429",
    "invalid_token",
    "lost_response",
    "success_string",
    "job_failed",
    "slow_publish",
)
_CREATE_ONLY_BY_DEFAULT = frozenset(
    {"lost_response", "success_string", "job_failed", "slow_publish"}
)


@dataclasses.dataclass
class _Armed:
    rate: float
    endpoints: frozenset[str] | None
    count: int | None
    delay_seconds: float | None


@dataclasses.dataclass(frozen=True)
class FaultInfo:
    """A read-only view of an armed fault."""

    name: str
    rate: float
    endpoints: tuple[str, ...] | None
    count: int | None
    delay_seconds: float | None


class Faults:
    """The armed faults of one server. Thread-safe."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._armed: dict[str, _Armed] = {}
        self._fired: dict[str, int] = dict.fromkeys(FAULT_NAMES, 0)

    def set(
        self,
        name: str,
        rate: float = 1.0,
        *,
        endpoints: Iterable[str] | None = None,
        count: int | None = None,
        delay_seconds: float | None = None,
    ) -> None:
        """Arm ``name``. ``endpoints``: request paths such as ``/api/separation/create`` (a path
        ending in ``/`` matches everything below it); None means every API endpoint, or only
        create for ``lost_response``, ``success_string``, ``job_failed`` and
        ``slow_publish``. ``count``: fire at most this many times. ``delay_seconds``: the
        ``slow`` fault's delay, or the ``slow_publish`` fault's publishing time.
        """
        if name not in FAULT_NAMES:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        paths = None if endpoints is None else frozenset(endpoints)
        if paths is None and name in _CREATE_ONLY_BY_DEFAULT:
            paths = frozenset({CREATE_PATH})
        with self._lock:
            self._armed[name] = _Armed(rate, paths, count, delay_seconds)

    def clear(self, name: str | None = None) -> None:
        """Disarm one fault, or all of them."""
        with self._lock:
            if name is None:
                self._armed.clear()
            else:
                self._armed.pop(name, None)

    def fire(self, name: str, path: str) -> bool:
        """Decide whether ``name`` strikes this request (and count it if so)."""
        with self._lock:
            armed = self._armed.get(name)
            if armed is None or not _matches(armed.endpoints, path):
                return False
            if armed.rate < 1.0 and self._random.random() >= armed.rate:
                return False
            self._fired[name] += 1
            if armed.count is not None:
                armed.count -= 1
                if armed.count <= 0:
                    del self._armed[name]
            return True

    def targets(self, name: str, path: str) -> bool:
        """True if ``name`` is armed for ``path`` (without rolling or counting)."""
        with self._lock:
            armed = self._armed.get(name)
            return armed is not None and _matches(armed.endpoints, path)

    def delay_seconds(self, name: str) -> float | None:
        with self._lock:
            armed = self._armed.get(name)
            return None if armed is None else armed.delay_seconds

    def armed(self) -> list[FaultInfo]:
        with self._lock:
            return [
                FaultInfo(
                    name=name,
                    rate=armed.rate,
                    endpoints=None if armed.endpoints is None else tuple(sorted(armed.endpoints)),
                    count=armed.count,
                    delay_seconds=armed.delay_seconds,
                )
                for name, armed in self._armed.items()
            ]

    def fired(self) -> dict[str, int]:
        """How many times each fault has struck since the server started."""
        with self._lock:
            return dict(self._fired)


def _matches(endpoints: frozenset[str] | None, path: str) -> bool:
    if endpoints is None:
        return path.startswith("/api/")
    return any(path == e or (e.endswith("/") and path.startswith(e)) for e in endpoints)
