"""Intake: hot folders in, completely written audio files out (adapter; the only watchdog user).

``Intake`` watches the configured hot folders (native events through one observer shared by
all of them, or polling for network shares, one observer per polled folder), scans every
folder at start-up and every ``rescan_seconds`` (watchers miss events; files arrive while the
daemon is down), and hands the engine each file once it has been quiet for its stability
window with an unchanged stat and the injected readiness check agrees. A file that stays
unchanged yet unfinished (a truncated or empty export) is reported incomplete after its folder's
``incomplete_after_seconds`` and watched on (``arrivals``); it is handed over once complete.
The owner is told each time a folder starts being watched, before its first scan (so that it
can record a folder's first watch, whenever the folder appears). It supervises its observers:
a dead one is restarted, a folder that vanishes is reported "missing" and picked up again when
it returns, a native watcher that cannot start (inotify limits) falls back to polling.

Threading: watchdog's threads only record paths in an ``EventInbox`` and set an event (see
``observers``). Everything else (scans, stats, readiness checks, supervision) runs on the
thread that calls ``start``/``take_ready``/``rescan``/``supervise`` (the engine's), under one
lock. ``health()``, ``pending()``, ``arrivals()`` and ``wait()`` read published snapshots and
never wait for that lock, so the status API may call them from its own thread while a slow disk
is scanned.

Submodules: ``records`` (the shared data), ``filters`` (names, symlinks, the walk), ``tracker``
(stability and readiness), ``folders`` (one folder's observer, status and scans),
``observers`` (watchdog), ``texts`` (log lines and reasons).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from mvsepd.errors import InputError
from mvsepd.intake.candidates import OwnReads
from mvsepd.intake.filters import (
    ALWAYS_IGNORED_DIRECTORY_NAMES,
    ALWAYS_IGNORED_FILE_PATTERNS,
    relative_parts,
    resolved,
)
from mvsepd.intake.folders import HotFolder, WatchStartHook, absolute
from mvsepd.intake.observers import EventInbox, FileWatch, NativeHub
from mvsepd.intake.records import (
    Arrival,
    FileStat,
    FolderChanges,
    FolderHealth,
    Readiness,
    ReadinessVerdict,
    ReadyFile,
    WatchSpec,
)
from mvsepd.intake.texts import IntakeLogger, ProblemLog, log_fields
from mvsepd.intake.tracker import CandidateTracker, KnownSnapshot, Waiting

__all__ = [
    "ALWAYS_IGNORED_DIRECTORY_NAMES",
    "ALWAYS_IGNORED_FILE_PATTERNS",
    "SUPERVISE_SECONDS",
    "UNHEALTHY_SUPERVISE_SECONDS",
    "Arrival",
    "FileStat",
    "FolderChanges",
    "FolderHealth",
    "Intake",
    "IntakeLogger",
    "Readiness",
    "ReadinessVerdict",
    "ReadyFile",
    "WatchSpec",
]

#: How often ``take_ready`` checks on observers and folders (clock seconds) while every folder
#: is watched; a folder missing or unreadable is looked at every ``UNHEALTHY_SUPERVISE_SECONDS``.
#: An event about a folder itself (deleted, moved) or a watcher thread that dies brings the
#: check forward to the next ``take_ready``.
SUPERVISE_SECONDS = 30.0
UNHEALTHY_SUPERVISE_SECONDS = 2.0


def _never_known(folder: Path, relative_path: str, stat: FileStat) -> bool:
    return False


#: Intakes running in this process: told when any thread dies of an exception.
_LIVE_INTAKES: weakref.WeakSet[Intake] = weakref.WeakSet()
_HOOK_LOCK = threading.Lock()
_hook_installed = False


def _watch_thread_deaths(intake: Intake) -> None:
    """Have ``intake`` told when a thread dies of an exception (a watchdog thread, say): it
    then supervises at once instead of at its next check."""
    global _hook_installed  # one process-wide hook, installed once
    _LIVE_INTAKES.add(intake)
    with _HOOK_LOCK:
        if _hook_installed:
            return
        _hook_installed = True
        previous = threading.excepthook

        def hook(arguments: threading.ExceptHookArgs) -> None:
            for live in list(_LIVE_INTAKES):
                live.notice_thread_death()
            previous(arguments)

        threading.excepthook = hook


class Intake:
    """Watches hot folders and returns files that are completely written (see the module doc)."""

    def __init__(
        self,
        specs: Sequence[WatchSpec],
        *,
        readiness: Callable[[Path], ReadinessVerdict],
        is_known: Callable[[Path, str, FileStat], bool] = _never_known,
        known_snapshot: KnownSnapshot | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rescan_seconds: float = 300.0,
        logger: IntakeLogger | None = None,
        on_watch_start: WatchStartHook | None = None,
    ) -> None:
        self._clock = clock
        self._rescan_seconds = rescan_seconds
        self._logger: IntakeLogger = logger or logging.getLogger("mvsepd.intake")
        self._lock = threading.RLock()
        self._inbox = EventInbox()
        self._problems = ProblemLog(self._logger)
        self._own_reads = OwnReads()
        self._tracker = CandidateTracker(
            readiness=readiness,
            is_known=is_known,
            logger=self._logger,
            wall_clock=wall_clock,
            own_reads=self._own_reads.count,
        )
        self._known_snapshot = known_snapshot
        self._on_watch_start = on_watch_start
        #: In the order of the specs. A folder's index (its events' tag) is never reused, so a
        #: late event of a folder that was let go is dropped, not given to another.
        self._folders: list[HotFolder] = []
        self._by_index: dict[int, HotFolder] = {}
        self._next_index = 0
        #: One native observer for every natively watched folder.
        self._hub = NativeHub()
        self._file_watch: FileWatch | None = None
        for spec in specs:
            folder = self._new_folder(spec)
            if any(other.path == folder.path for other in self._folders):
                raise InputError(f"{folder.path} is listed twice as a hot folder", field="path")
            self._folders.append(folder)
        self._by_index = {folder.index: folder for folder in self._folders}
        self._started = False
        self._next_rescan = float("inf")
        self._next_supervise = float("inf")
        self._supervise_soon = False
        # Read by other threads: replaced whole, never changed in place.
        self._pending: tuple[tuple[Path, float], ...] = ()
        self._waiting: tuple[Waiting, ...] = ()
        self._arriving = False
        self._arrival_due = float("inf")
        self._next_recheck = float("inf")

    def _new_folder(self, spec: WatchSpec) -> HotFolder:
        folder = HotFolder(
            self._next_index,
            spec,
            inbox=self._inbox,
            tracker=self._tracker,
            logger=self._logger,
            problems=self._problems,
            hub=self._hub,
            known_snapshot=self._known_snapshot,
            on_watch_start=self._on_watch_start,
        )
        self._next_index += 1
        if not spec.patterns:
            self._logger.warning(
                log_fields("no file patterns; nothing will be taken", folder=folder.path)
            )
        return folder

    # Life cycle.

    def start(self) -> None:
        """Start watching every folder, then scan every folder (events meanwhile are kept).

        Observers first, scan second: a file arriving between the two is reported by the
        observer into the inbox, and the tracker merges it with what the scan found.
        """
        with self._lock:
            if self._started:
                return
            self._started = True
            for folder in self._folders:
                folder.start()
            now = self._clock()
            for folder in self._folders:
                if folder.is_running:
                    folder.scan(now)
            self._next_rescan = now + self._rescan_seconds
            self._next_supervise = now + self._supervise_interval()
            _watch_thread_deaths(self)
            self._publish_pending()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join every observer (``timeout`` seconds for all together); idempotent."""
        with self._lock:
            _LIVE_INTAKES.discard(self)
            self._started = False
            if self._file_watch is not None:
                self._file_watch.stop()
            watchers = [folder.detach_watcher(join=False) for folder in self._folders]
            for folder in self._folders:
                folder.mark_stopped()
            deadline = time.monotonic() + timeout
            for watcher in watchers:
                if watcher is not None:
                    watcher.join(deadline - time.monotonic())
            self._hub.stop(deadline - time.monotonic())
            self._inbox.wake()

    def reconfigure(self, specs: Sequence[WatchSpec]) -> FolderChanges:
        """Watch exactly ``specs`` from now on, while running: a folder no longer listed is let
        go (its watch stopped, the files it was checking forgotten), a new one is watched (its
        owner told, then scanned, as at start), one whose settings changed is watched again
        with them (its files checked afresh). Folders that did not change are not touched.
        InputError (nothing changed) when a folder is listed twice."""
        with self._lock:
            wanted: dict[Path, WatchSpec] = {}
            for spec in specs:
                path = absolute(spec.path)
                if path in wanted:
                    raise InputError(f"{path} is listed twice as a hot folder", field="path")
                wanted[path] = spec
            current = {folder.path: folder for folder in self._folders}
            let_go = [folder for path, folder in current.items() if wanted.get(path) != folder.spec]
            for folder in let_go:
                watcher = folder.detach_watcher(join=False)
                folder.mark_stopped()
                self._tracker.drop_folder(folder.path)
                if watcher is not None:
                    watcher.join(0.0)
            kept = {path: folder for path, folder in current.items() if folder not in let_go}
            started = [self._new_folder(spec) for path, spec in wanted.items() if path not in kept]
            by_path = {**kept, **{folder.path: folder for folder in started}}
            self._folders = [by_path[path] for path in wanted]
            self._by_index = {folder.index: folder for folder in self._folders}
            if self._started:
                now = self._clock()
                for folder in started:
                    folder.start()
                    if folder.is_running:
                        folder.scan(now)
                self._next_supervise = min(self._next_supervise, now + self._supervise_interval())
            self._publish_pending()
            before, after = set(current), set(wanted)
            return FolderChanges(
                added=tuple(sorted(after - before)),
                removed=tuple(sorted(before - after)),
                changed=tuple(sorted(folder.path for folder in let_go if folder.path in after)),
            )

    def watch_file(self, path: Path, on_change: Callable[[], None]) -> None:
        """Call ``on_change`` (on a watcher's thread; it must return at once) whenever the file
        at ``path`` is written, replaced, moved or removed: an editor's save, however it saves.
        One watch at a time; a later call replaces it. A file that cannot be watched is left
        unwatched, and said in the log."""
        with self._lock:
            if self._file_watch is not None:
                self._file_watch.stop()
            self._file_watch = FileWatch(self._hub, absolute(path), on_change)
            try:
                self._file_watch.start()
            except OSError as error:
                self._logger.warning(
                    log_fields("cannot watch the file", path=path, error=str(error))
                )
                self._file_watch = None

    # The engine's calls.

    def take_ready(self) -> list[ReadyFile]:
        """Files done with since the last call: ready, or given up (``rejected_reason`` set).

        Also applies the watchers' events, supervises the folders and runs the periodic
        rescan when they are due.
        """
        with self._lock:
            if not self._started:
                return []
            now = self._clock()
            self._apply_events(now)
            if self._supervise_soon or now >= self._next_supervise:
                self._supervise_all(now)
            if now >= self._next_rescan:
                self._next_rescan = now + self._rescan_seconds
                for folder in self._folders:
                    if folder.is_running:
                        folder.scan(now)
            for folder in self._folders:
                folder.poll_if_due(now)
            finished = self._tracker.due(now)
            self._publish_pending()
            return finished

    def take_closed(self) -> list[Path]:
        """Files still being checked whose writer closed them since the last call (on the
        engine's thread, after ``take_ready``): they are likely complete, soon to be ready."""
        with self._lock:
            return self._tracker.take_closed()

    def reading(self, path: Path) -> contextlib.AbstractContextManager[None]:
        """Around mvsepd's own read of a file that is still a candidate (any thread): its
        open and close are not taken for a writer's."""
        return self._own_reads.reading(path)

    def rescan(self, folder: Path | None = None, *, afresh: bool = False) -> int:
        """Scan one folder (or all) now; return how many files became new candidates.

        Files already being checked, settled or known to the engine are not counted; with
        ``afresh``, what intake settled itself is forgotten first, so every file is asked
        about again (after its owner forgot some of them).
        A missing or unreadable folder is checked again (and scanned if it is usable now).
        Before ``start`` and after ``stop`` nothing is scanned and 0 is returned.
        """
        with self._lock:
            chosen = self._select(folder)
            if not self._started:
                return 0
            now = self._clock()
            count = 0
            for item in chosen:
                if afresh:
                    self._tracker.forget_settled(item.path)
                count += item.scan(now) if item.is_running else item.supervise(now)
            self._publish_pending()
            return count

    def list_files(
        self, folder: Path, *, changed_before: float | None = None
    ) -> list[tuple[Path, str, FileStat]]:
        """Eligible files now in ``folder`` (the scan's filters), without arming any of them.

        With ``changed_before`` (a wall-clock time), only files whose content and place are
        older: modified and (status) changed before it, so a file written, copied or moved
        into the folder since then is left out. A folder that is missing or unreadable lists
        as empty (and is logged).
        """
        with self._lock:
            (item,) = self._select(folder)
            return item.list_files(changed_before)

    def watched_folder(self, folder: Path) -> Path:
        """The hot folder ``folder`` names (in any spelling: relative, through a symlink), as
        configured; InputError, naming the hot folders, when it is none of them."""
        with self._lock:
            (item,) = self._select(folder)
            return item.path

    def supervise(self) -> None:
        """Restart dead observers; notice folders that vanished, came back or were replaced."""
        with self._lock:
            self._supervise_all(self._clock())
            self._publish_pending()

    def health(self) -> list[FolderHealth]:
        """How each folder's watching stands, in the order of the specs."""
        return [folder.health for folder in self._folders]

    def pending(self) -> list[tuple[Path, float]]:
        """Files being checked for stability, with the clock time each was first seen."""
        return list(self._pending)

    def arrivals(self) -> list[Arrival]:
        """Files being waited for: still arriving, or reported incomplete (with the reason)."""
        now = self._clock()
        return [
            Arrival(
                item.folder,
                item.path,
                item.relative_path,
                max(0.0, now - item.since),
                item.incomplete,
                item.reason,
            )
            for item in self._waiting
        ]

    def arriving(self) -> bool:
        """True while a file that is not reported incomplete is being checked: its stability
        window may end at any moment, so the engine looks often (``take_ready``)."""
        return self._arriving

    def seconds_until_arrival_due(self) -> float:
        """Seconds until the window of the first file still arriving is over (inf: none);
        the engine looks then, and in between at least every tenth of a second."""
        return max(0.0, self._arrival_due - self._clock())

    def on_event(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener`` (on a watcher's thread; it must return at once) whenever a watcher
        reports something, a watcher thread dies, or intake stops."""
        self._inbox.set_listener(listener)

    def seconds_until_due(self) -> float:
        """Seconds until ``take_ready`` has work of its own: a supervision, a rescan, a poll, or
        the recheck of a file reported incomplete (the stability window of a file still
        arriving is the engine's to watch, through ``arriving``)."""
        if self._supervise_soon:
            return 0.0
        polls = (folder.next_poll_at for folder in self._folders)
        due = min(self._next_supervise, self._next_rescan, self._next_recheck, *polls)
        return max(0.0, due - self._clock())

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until a watcher reports something; True if one did.

        The flag is cleared by ``take_ready``; ``stop`` releases a waiting thread too.
        """
        return self._inbox.wait(timeout)

    def simulate_observer_crash(self, folder: Path) -> None:
        """Fault-injection seam: stop a folder's observer thread the way a crash would.

        Health is left as it was, exactly as after a real crash, and the death is reported as
        ``threading.excepthook`` reports a real one; the next ``take_ready`` finds the dead
        observer, logs it and restarts it. For tests and fault drills; normal operation never
        calls it.
        """
        with self._lock:
            (item,) = self._select(folder)
            item.crash_observer()
        self.notice_thread_death()

    # Internals.

    def _apply_events(self, now: float) -> None:
        paths, handles, failed_folders = self._inbox.drain_all()
        for (index, raw_path), is_directory in paths.items():
            folder = self._by_index.get(index)
            if folder is None or not folder.is_running:
                continue  # a late event from an observer already stopped
            parts = relative_parts(folder.view.real_root, raw_path)
            if parts is None:
                continue
            if not parts:
                self._supervise_soon = True  # the folder itself was deleted or moved
                continue
            path = os.path.join(folder.view.root, *parts)
            try:
                folder.examine(path, parts, is_directory=is_directory, now=now)
            except OSError as error:
                self._problems.note(path, error)
        # After the paths: a close comes with an event of its own, which made the candidate.
        for (index, raw_path), news in handles.items():
            folder = self._by_index.get(index)
            if folder is None or not folder.is_running:
                continue  # let go since
            parts = relative_parts(folder.view.real_root, raw_path)
            if parts:
                self._tracker.note_handles(os.path.join(folder.view.root, *parts), news, now)
        for index in sorted(failed_folders):
            folder = self._by_index.get(index)
            if folder is None:
                continue  # let go since
            self._logger.warning(
                log_fields("a watcher event was lost; rescanning", folder=folder.path)
            )
            if folder.is_running:
                folder.scan(now)

    def _supervise_all(self, now: float) -> None:
        self._supervise_soon = False
        if self._started:
            for folder in self._folders:
                folder.supervise(now)
            if self._file_watch is not None and not self._file_watch.is_alive():
                with contextlib.suppress(OSError):
                    self._file_watch.start()
        self._next_supervise = now + self._supervise_interval()

    def _supervise_interval(self) -> float:
        healthy = all(folder.is_running for folder in self._folders)
        return SUPERVISE_SECONDS if healthy else UNHEALTHY_SUPERVISE_SECONDS

    def notice_thread_death(self) -> None:
        """Have the next ``take_ready`` supervise every folder, and wake whoever waits."""
        self._supervise_soon = True
        self._inbox.wake()

    def _select(self, folder: Path | None) -> list[HotFolder]:
        if folder is None:
            return list(self._folders)
        wanted = absolute(folder)
        wanted_real = resolved(os.fspath(wanted))
        for item in self._folders:
            if wanted == item.path or wanted_real == item.view.real_root:
                return [item]
        watched = ", ".join(str(item.path) for item in self._folders) or "none"
        raise InputError(
            f"{folder} is not a watched hot folder (they are: {watched})",
            field="folder",
        )

    def _publish_pending(self) -> None:
        tracker = self._tracker
        self._pending = tuple(tracker.pending())
        self._waiting = tuple(tracker.waiting())
        self._arriving = tracker.arriving()
        self._arrival_due = tracker.next_arrival_due()
        self._next_recheck = tracker.next_recheck()
