"""The instance lock: one daemon per state directory.

``InstanceLock`` holds an exclusive lock on a file in the state directory while a daemon runs
(``flock`` on POSIX, ``msvcrt.locking`` on Windows; both vanish with the process, so a killed
daemon never leaves a stale lock). A second daemon is refused with a message naming the first
one's pid, and ``holder`` answers "who runs here?" without taking anything (the service
installer asks it).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

from mvsepd.errors import AlreadyRunningError
from mvsepd.paths import ensure_private_directory


class InstanceLock:
    """An exclusive lock on a file in the state directory, held while the daemon runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunningError naming the process that holds it."""
        ensure_private_directory(self.path.parent)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            _lock_file(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunningError(
                f"another mvsepd daemon (pid {holder}) already uses {self.path.parent}; "
                "stop it first (`mvsepd status` shows it) or give this one its own "
                "MVSEPD_STATE_DIR"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def holder(self) -> str | None:
        """The pid of the daemon holding the lock, or None; changes nothing on disk."""
        try:
            handle = self.path.open("r+", encoding="utf-8")
        except OSError:
            return None  # no lock file (no daemon ever ran here), or not ours to open
        with handle:
            try:
                _lock_file(handle)
            except OSError:
                handle.seek(0)
                return handle.read().strip() or "unknown"
            _unlock_file(handle)
        return None

    def release(self) -> None:
        """Release the lock (the file stays; its content is the last holder's pid)."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                _unlock_file(self._handle)
            self._handle.close()
            self._handle = None


def _lock_file(handle: IO[str]) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock_file(handle: IO[str]) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
