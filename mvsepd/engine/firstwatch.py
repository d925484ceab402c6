"""A hot folder's first watch, and the files that were there before it.

A folder's first watch is the moment mvsepd first watches it: at a start when it exists, or
when it appears while the daemon runs (the intake tells the engine each time it starts watching
a folder, before it scans it). That moment is recorded in the store then, so every file that
arrives later, even while the daemon is stopped, is a new file. What was there before is
skipped (``existing_files: skip``: recorded as seen, no job, no credits), but never in silence:
``skipped`` says how many and which, ``mvsepd status`` shows them, and ``take`` (``mvsepd rescan
--include-existing FOLDER``) makes them ordinary new files, with the usual identity rules.

"Before" is measured against the moment the daemon began waiting for the folder: its start,
or, for a folder added to the configuration while it runs, that moment. A file written,
copied or moved into a folder that appeared later arrived after that, whenever the folder was
first seen, so a bounce saved into a folder just created in the DAW's save dialog is taken; a
disk mounted with last year's bounces is not, and neither are the bounces of a folder that
existed before it was added (a daemon that ran for days does not take a week of them).
"""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass
from pathlib import Path

import structlog

from mvsepd.engine.context import Context
from mvsepd.intake import Intake

log = structlog.get_logger("mvsepd.engine")


@dataclass(frozen=True)
class SkippedFiles:
    """The files of one folder skipped as there before its first watch."""

    count: int
    #: Their paths relative to the folder, in name order (the first few, or all when asked).
    files: tuple[str, ...]

    def message(self, folder: Path) -> str:
        """What the user reads: how many, and the command that takes them."""
        files = "1 file was" if self.count == 1 else f"{self.count} files were"
        return (
            f"{files} there before this folder was watched: process "
            f"{'it' if self.count == 1 else 'them'} with "
            f"`{include_existing_command(folder)}`"
        )


def include_existing_command(folder: Path) -> str:
    """The command that takes a folder's skipped files, quoted for a shell."""
    return f"mvsepd rescan --include-existing {shlex.quote(str(folder))}"


class FirstWatch:
    """Records each folder's first watch and applies its ``existing_files`` policy then."""

    def __init__(self, context: Context, intake: Intake) -> None:
        self._context = context
        self._intake = intake
        self._recorded: set[Path] = set()
        self._lock = threading.Lock()

    def __call__(self, folder: Path) -> None:
        """The intake starts watching ``folder`` (before its scan): record its first watch.

        Raises what the store raises when it cannot record it (the intake then leaves the
        folder unwatched and asks again later: scanned first, its old files would be taken).
        """
        with self._lock:
            if folder in self._recorded:
                return
            runtime = self._context.folders.get(folder)
            if runtime is None:
                return
            store = self._context.store
            key = str(folder)
            if store.folder_first_watched(key) is None:
                skipped: list[tuple[str, int, int]] = []
                if runtime.config.existing_files == "skip":
                    listed = self._intake.list_files(
                        folder, changed_before=self._context.waiting_since(folder)
                    )
                    skipped = [(relative, stat.size, stat.mtime_ns) for _, relative, stat in listed]
                store.mark_folder_watched(key, skipped)
                fields: dict[str, object] = {"folder": key, "existing_files": len(skipped)}
                if skipped:
                    fields["note"] = SkippedFiles(len(skipped), ()).message(folder)
                log.info("folder_first_watched", **fields)
            self._recorded.add(folder)

    def skipped(self, folder: Path, *, limit: int | None) -> SkippedFiles:
        """The files of ``folder`` skipped as there before its first watch (``limit``: name at
        most that many)."""
        count, files = self._context.store.skipped_files(str(folder), limit=limit)
        return SkippedFiles(count, tuple(files))

    def take(self, folder: Path) -> tuple[int, int]:
        """Take the files of ``folder`` skipped as there before its first watch: they become
        new files (a job each, unless the same audio with the same preset was paid already).
        Return how many were skipped, and how many files the rescan found to check."""
        released = self._context.store.release_skipped(str(folder))
        found = self._intake.rescan(folder, afresh=True)
        log.info("existing_files_taken", folder=str(folder), skipped=released, found=found)
        return released, found
