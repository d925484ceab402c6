"""A change counter that status clients can wait on (long-poll), advanced on every change."""

from __future__ import annotations

import threading


class ChangeFeed:
    """A monotonically increasing version; ``wait_beyond`` blocks until it moves past a value."""

    def __init__(self) -> None:
        self._version = 0
        self._condition = threading.Condition()

    @property
    def version(self) -> int:
        """The current version."""
        with self._condition:
            return self._version

    def bump(self) -> int:
        """Record a change; wake every waiter. Return the new version."""
        with self._condition:
            self._version += 1
            self._condition.notify_all()
            return self._version

    def wait_beyond(self, seen: int, timeout: float) -> int:
        """Block until the version is greater than ``seen`` or ``timeout`` passes; return it."""
        with self._condition:
            self._condition.wait_for(lambda: self._version > seen, timeout=timeout)
            return self._version
