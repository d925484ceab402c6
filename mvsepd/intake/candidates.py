"""What the tracker keeps of each file it is checking: where the file lives (``FileSite``) and
how it stands (``Candidate``): its stat at its last change, when it was first seen, when it is
next examined, whether it was reported incomplete, and what the watcher told of its handles.

A candidate's quiet time (``window``) is its folder's stability window, or, where the watcher
reports closes (inotify), ``stability_after_close`` once its writer closed it (or it was moved
into the folder), nothing changed since and nobody holds it open but mvsepd itself: a DAW that
reopens its bounce to patch the header opens it again (the short window is off until it
closes it) or writes to it (the window starts again).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mvsepd.intake.filters import FolderView
from mvsepd.intake.records import FileStat


@dataclass(frozen=True)
class FileSite:
    """Where a candidate lives: its folder, its path under that folder's own spelling."""

    folder: Path
    path: Path
    relative_path: str
    stability_seconds: float
    view: FolderView
    incomplete_after_seconds: float
    #: The quiet time after its writer closed it, where the watcher reports closes.
    stability_after_close: float | None = None


@dataclass
class Candidate:
    site: FileSite
    stat: FileStat
    first_seen: float
    last_change: float
    next_check: float
    #: When waiting for it began: first seen, or its last change when earlier (a restart).
    waiting_since: float
    #: Since when its stat is unchanged (at first sight: its modification time).
    unchanged_since: float
    reported: bool = False
    reason: str = ""
    #: Handles open on it as the watcher told (opens less closes, never below 0).
    handles: int = 0
    #: When its writer closed it (or it was moved in) with no handle left open.
    closed_at: float | None = None

    @property
    def window(self) -> float:
        """The quiet time it needs: shorter once its writer closed it, nothing changed since
        and nobody holds it open (see the module docstring)."""
        return self.window_with(0)

    def window_with(self, own_reads: int) -> float:
        """``window``, with ``own_reads`` of the open handles mvsepd's own (not a writer's)."""
        after_close = self.site.stability_after_close
        if (
            after_close is not None
            and self.closed_at is not None
            and self.closed_at >= self.last_change
            and self.handles <= own_reads
        ):
            return min(after_close, self.site.stability_seconds)
        return self.site.stability_seconds

    @property
    def due_at(self) -> float:
        """When it is next examined (its window over, and its recheck due)."""
        return max(self.last_change + self.window, self.next_check)


class OwnReads:
    """The files mvsepd itself is reading while they are candidates (a hash taken early), by
    path: their opens are not a writer's (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reading: dict[str, int] = {}

    @contextlib.contextmanager
    def reading(self, path: Path) -> Iterator[None]:
        """Around one read of ``path``."""
        key = os.fspath(path)
        with self._lock:
            self._reading[key] = self._reading.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._reading[key] - 1
                if left:
                    self._reading[key] = left
                else:
                    del self._reading[key]

    def count(self, path: str) -> int:
        """How many reads of ``path`` are under way."""
        with self._lock:
            return self._reading.get(path, 0)
