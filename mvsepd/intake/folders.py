"""One hot folder as intake runs it: its observer, its status, its scans, its supervision.

A ``HotFolder`` moves between "stopped", "watching" / "polling", "missing" and "error". It owns
the translation of the file system's answers into those states: a folder that is gone is
"missing" (never an exception), one that cannot be read is "error" with the reason in words,
one whose observer died or whose directory was replaced by another is restarted and rescanned.
It offers what it finds to the shared ``CandidateTracker``; it never decides readiness.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mvsepd.intake.candidates import FileSite
from mvsepd.intake.filters import (
    FolderView,
    NameFilter,
    changed_before,
    file_stat_if_regular,
    resolved,
    walk,
)
from mvsepd.intake.observers import (
    EventForwarder,
    EventInbox,
    FolderWatcher,
    NativeHub,
    ScanPolling,
    start_watcher,
)
from mvsepd.intake.records import FileStat, FolderHealth, FolderStatus, WatchSpec
from mvsepd.intake.texts import IntakeLogger, ProblemLog, describe_error, log_fields
from mvsepd.intake.tracker import CandidateTracker, KnownSnapshot

#: How long stopping an observer waits for its thread.
JOIN_SECONDS = 1.0

RUNNING: frozenset[FolderStatus] = frozenset({"watching", "polling"})

#: Told (on the engine's thread) each time a folder starts being watched, before it is scanned:
#: at start, and whenever it appears, returns or is watched again. An exception keeps the
#: folder unwatched (status "error") until the next supervision tries again.
WatchStartHook = Callable[[Path], None]


def absolute(path: Path) -> Path:
    """``path`` made absolute in the caller's spelling (symlinks kept, ``~`` expanded)."""
    return Path(os.path.abspath(os.path.expanduser(path)))


class HotFolder:
    """One watched folder: observer, status and scans (used under ``Intake``'s lock)."""

    def __init__(
        self,
        index: int,
        spec: WatchSpec,
        *,
        inbox: EventInbox,
        tracker: CandidateTracker,
        logger: IntakeLogger,
        problems: ProblemLog,
        hub: NativeHub | None = None,
        known_snapshot: KnownSnapshot | None = None,
        on_watch_start: WatchStartHook | None = None,
    ) -> None:
        self.index = index
        self._hub = hub
        self._known_snapshot = known_snapshot
        self._on_watch_start = on_watch_start
        self.spec = spec
        self.path = absolute(spec.path)
        self.view = FolderView(
            root=os.fspath(self.path),
            real_root=resolved(os.fspath(self.path)),
            recursive=spec.recursive,
            names=NameFilter.for_spec(spec),
        )
        #: The published state; replaced whole so other threads may read it without the lock.
        self.health = FolderHealth(self.path, "stopped")
        self._inbox = inbox
        self._tracker = tracker
        self._logger = logger
        self._problems = problems
        self._watcher: FolderWatcher | ScanPolling | None = None
        #: When a folder polled by intake's scans is next scanned (clock seconds).
        self.next_poll_at = float("inf")
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) being watched
        self._native_unavailable: str | None = None  # once native failed, poll from then on
        self._unreadable = 0  # entries the last full scan could not read
        self._refused: str | None = None  # why the watch-start hook refused, while it does

    @property
    def status(self) -> FolderStatus:
        """The current status."""
        return self.health.status

    @property
    def is_running(self) -> bool:
        """True while an observer watches the folder."""
        return self._watcher is not None

    # Observer life cycle.

    def start(self) -> None:
        """(Re)start the observer; the status says how that went."""
        self.detach_watcher(join=True)
        self._refused = None
        real_root = resolved(os.fspath(self.path))
        self.view = replace(self.view, real_root=real_root)
        try:
            folder_status = os.stat(real_root)
            if not stat.S_ISDIR(folder_status.st_mode):
                self._unusable("the path is not a folder")
                return
            watcher = start_watcher(
                real_root,
                EventForwarder(self._inbox, self.index),
                recursive=self.spec.recursive,
                mode="poll" if self._native_unavailable else self.spec.mode,
                poll_interval=self.spec.poll_interval,
                hub=self._hub,
            )
        except (FileNotFoundError, NotADirectoryError):
            self._gone()
            return
        except OSError as error:
            self._unusable(f"cannot watch the folder ({describe_error(error)})")
            return
        except Exception as error:  # a watchdog bug must cost one folder, not the daemon
            self._logger.warning(
                log_fields("observer failed to start", folder=self.path, error=repr(error)),
                exc_info=True,
            )
            self._unusable(f"cannot watch the folder ({type(error).__name__}: {error})")
            return
        self._watcher = watcher
        self._identity = (folder_status.st_dev, folder_status.st_ino)
        if not self._told_watch_start():
            return
        if watcher.fallback_reason is not None and self._native_unavailable is None:
            self._native_unavailable = watcher.fallback_reason
            self._logger.warning(
                log_fields(
                    "native watching unavailable; polling instead",
                    folder=self.path,
                    reason=watcher.fallback_reason,
                    interval=self.spec.poll_interval,
                )
            )
        status: FolderStatus = "watching" if watcher.mode == "native" else "polling"
        if self.status != status:
            self._logger.info(
                log_fields("watching hot folder", folder=self.path, mode=watcher.mode)
            )
        self._set(status, self._running_detail(status))

    def _told_watch_start(self) -> bool:
        """Tell the owner that watching starts (before the first scan); False, with the folder
        unwatched and in error, when it refuses (it cannot record the first watch now)."""
        if self._on_watch_start is None:
            return True
        try:
            self._on_watch_start(self.path)
        except Exception as error:  # foreign code (the store): the folder waits, intake goes on
            self._logger.warning(
                log_fields("cannot start watching yet", folder=self.path, error=repr(error)),
                exc_info=True,
            )
            self.detach_watcher(join=True)
            self._refused = f"cannot start watching it yet ({error}); trying again"
            self._unusable(self._refused)
            return False
        self._refused = None
        return True

    def poll_if_due(self, now: float) -> int:
        """Scan a folder that intake polls, when its interval has passed; return how many
        new candidates that found."""
        watcher = self._watcher
        if not isinstance(watcher, ScanPolling) or now < self.next_poll_at:
            return 0
        return self.scan(now)

    def detach_watcher(self, *, join: bool) -> FolderWatcher | ScanPolling | None:
        """Stop the observer (waiting for it when ``join``) and return it."""
        watcher, self._watcher = self._watcher, None
        self.next_poll_at = float("inf")
        if watcher is not None:
            watcher.stop()
            if join:
                watcher.join(JOIN_SECONDS)
        return watcher

    def mark_stopped(self) -> None:
        """Record that intake stopped watching this folder."""
        self._set("stopped", "")

    def crash_observer(self) -> None:
        """Stop the observer thread behind supervision's back (a fault-injection seam)."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.join(JOIN_SECONDS * 5)

    def supervise(self, now: float) -> int:
        """Restart and rescan the folder if needed; return how many new candidates that found."""
        real_root = resolved(os.fspath(self.path))
        try:
            folder_status = os.stat(real_root)
        except (FileNotFoundError, NotADirectoryError):
            self._gone()
            return 0
        except OSError as error:
            self._unusable(f"cannot reach the folder ({describe_error(error)})")
            return 0
        if not stat.S_ISDIR(folder_status.st_mode):
            self._unusable("the path is not a folder")
            return 0
        if self.status == "missing":
            self._logger.info(log_fields("hot folder is back", folder=self.path))
        elif self.status == "error" and self._refused is not None:
            pass  # the folder is fine; its owner refused to start on it: ask again
        elif self.status == "error":
            try:
                with os.scandir(real_root) as scanner:
                    next(scanner, None)
            except OSError:
                return 0  # still unreadable: keep the error, do not churn observers
            self._logger.info(log_fields("hot folder is readable again", folder=self.path))
        elif self._watcher is None or not self._watcher.is_alive():
            self._logger.warning(log_fields("observer stopped; restarting it", folder=self.path))
        elif (folder_status.st_dev, folder_status.st_ino) != self._identity:
            # inotify follows the old directory's inode: a folder renamed away and re-created
            # would otherwise never report another event.
            self._logger.warning(
                log_fields("hot folder was replaced; rewatching", folder=self.path)
            )
        else:
            return 0
        self.start()
        return self.scan(now) if self.is_running else 0

    # Scans and events.

    def scan(self, now: float, start: str | None = None) -> int:
        """Offer every eligible file below ``start`` (default: the whole folder).

        Returns how many became new candidates. A folder that turns out to be gone or
        unreadable changes status instead of raising.
        """
        unreadable: list[str] = []
        new_candidates = 0
        if start is None and isinstance(self._watcher, ScanPolling):
            # Every whole scan counts as a poll: the next one is an interval from now.
            self.next_poll_at = now + self._watcher.interval

        def on_problem(path: str, error: OSError) -> None:
            unreadable.append(path)
            self._problems.note(path, error)

        tracker = self._tracker
        # A full scan reads what the owner already handled once, and the walk passes those
        # files over; anything else is asked about file by file (so a record written during
        # the scan is still seen).
        known = None
        if start is None and self._known_snapshot is not None:
            known = self._known_snapshot(self.path)
        try:
            for found in walk(
                self.view,
                start,
                on_problem=on_problem,
                on_ignored=tracker.note_ignored,
                known=known,
            ):
                if tracker.is_settled(found.path, found.stat):
                    continue
                site = self.site(found.path, found.relative_path)
                if tracker.offer(site, found.stat, now, from_event=False):
                    new_candidates += 1
        except (FileNotFoundError, NotADirectoryError):
            if start is None:
                self._gone()
            else:
                self._tracker.forget(start, subtree=True)
            return new_candidates
        except OSError as error:
            if start is None:
                self._unusable(f"cannot read the folder ({describe_error(error)})")
            else:
                self._problems.note(start, error)
            return new_candidates
        if start is None:
            if not unreadable:
                # Only a complete listing may forget files: behind an unreadable sub-folder
                # they are still there, just not visible.
                self._tracker.prune_settled(self.path)
            if unreadable or self._unreadable:
                self._unreadable = len(unreadable)
                self._set(self.status, self._running_detail(self.status))
        return new_candidates

    def list_files(self, before: float | None) -> list[tuple[Path, str, FileStat]]:
        """Eligible files now in the folder, without offering any (see ``Intake.list_files``);
        with ``before``, only those last written and moved here before that moment."""
        found: list[tuple[Path, str, FileStat]] = []
        try:
            for entry in walk(
                self.view, on_problem=self._problems.note, on_ignored=self._tracker.note_ignored
            ):
                if before is None or changed_before(entry.path, before):
                    found.append((Path(entry.path), entry.relative_path, entry.stat))
        except (FileNotFoundError, NotADirectoryError):
            pass  # a missing folder lists as empty; its health says it is missing
        except OSError as error:
            self._problems.note(self.view.root, error)
        return found

    def examine(self, path: str, parts: tuple[str, ...], *, is_directory: bool, now: float) -> None:
        """Look again at one path a watcher reported (``parts``: its components below us)."""
        view = self.view
        if len(parts) > 1 and not view.recursive:
            return
        if not all(view.names.accepts_directory(part) for part in parts[:-1]):
            return
        try:
            link_status = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            self._tracker.forget(path, subtree=is_directory)
            return
        if stat.S_ISDIR(link_status.st_mode):
            if view.recursive and view.names.accepts_directory(parts[-1]):
                self.scan(now, start=path)
            return
        if not view.eligible_parts(parts):
            return
        try:
            current = file_stat_if_regular(view, path, on_ignored=self._tracker.note_ignored)
        except FileNotFoundError:
            current = None
        if current is None:
            self._tracker.forget(path)
            return
        self._tracker.offer(self.site(path, "/".join(parts)), current, now, from_event=True)

    def site(self, path: str, relative_path: str) -> FileSite:
        """Where a file of this folder lives, for the tracker."""
        after_close = self.spec.stability_after_close
        watcher = self._watcher
        if watcher is None or not watcher.reports_closes:
            after_close = None
        return FileSite(
            folder=self.path,
            path=Path(path),
            relative_path=relative_path,
            stability_seconds=self.spec.stability_seconds,
            view=self.view,
            incomplete_after_seconds=self.spec.incomplete_after_seconds,
            stability_after_close=after_close,
        )

    # Status.

    def _gone(self) -> None:
        self.detach_watcher(join=True)
        self._tracker.drop_folder(self.path)
        if self.status != "missing":
            self._logger.warning(log_fields("hot folder missing; waiting for it", folder=self.path))
        self._set("missing", "the folder does not exist; waiting for it to return")

    def _unusable(self, detail: str) -> None:
        self.detach_watcher(join=True)
        if (self.status, self.health.detail) != ("error", detail):
            self._logger.warning(log_fields("hot folder unusable", folder=self.path, reason=detail))
        self._set("error", detail)

    def _running_detail(self, status: FolderStatus) -> str:
        if status == "polling":
            detail = f"polling every {self.spec.poll_interval:g} s"
            if self._native_unavailable:
                detail += f" (native watching unavailable: {self._native_unavailable})"
        else:
            detail = "native file-system events"
        if self._unreadable:
            detail += f"; {self._unreadable} item(s) inside cannot be read (see the log)"
        return detail

    def _set(self, status: FolderStatus, detail: str) -> None:
        self.health = FolderHealth(self.path, status, detail)
