"""The watchdog side of intake (the only module in mvsepd that imports watchdog).

Owns one observer per hot folder: a native one (inotify, FSEvents, ReadDirectoryChangesW) or a
polling one; the fall-back from native to polling when the native watcher cannot start (inotify
watch or instance limits); telling whether an observer still runs; and the event hand-off.

Handlers run on watchdog's threads and an exception there kills the observer, so the handler
only records the path in an ``EventInbox`` (a coalescing dict under a lock) and sets a
``threading.Event``; every decision is made later on the engine's thread. Events are hints:
which path to look at again, nothing more.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Literal

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

WatchMode = Literal["native", "poll"]
ObserverFactory = Callable[[], BaseObserver]

# Our own readiness probe opens files; reacting to opens and read-only closes would re-arm
# every file we look at.
_IGNORED_EVENT_TYPES = frozenset({EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})


class EventInbox:
    """Paths reported by the watchers, coalesced per path, until the engine thread drains them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[tuple[int, str], bool] = {}
        self._failed_folders: set[int] = set()
        self._wakeup = threading.Event()

    def put(self, folder_index: int, path: str, *, is_directory: bool) -> None:
        """Record that ``path`` in folder ``folder_index`` should be looked at again."""
        with self._lock:
            key = (folder_index, path)
            self._paths[key] = self._paths.get(key, False) or is_directory
        self._wakeup.set()

    def note_failure(self, folder_index: int) -> None:
        """Record that an event of this folder could not be recorded (it will be rescanned)."""
        with self._lock:
            self._failed_folders.add(folder_index)
        self._wakeup.set()

    def drain(self) -> tuple[dict[tuple[int, str], bool], set[int]]:
        """Take every recorded path (with its is-directory hint) and every failed folder."""
        # Clear before taking: an event arriving in between is either taken now or sets the
        # flag again, so no wake-up is lost.
        self._wakeup.clear()
        with self._lock:
            paths, self._paths = self._paths, {}
            failed, self._failed_folders = self._failed_folders, set()
        return paths, failed

    def wait(self, timeout: float) -> bool:
        """Block until something was recorded (or ``wake``), at most ``timeout`` seconds."""
        return self._wakeup.wait(timeout)

    def wake(self) -> None:
        """Release a ``wait`` (used when intake stops)."""
        self._wakeup.set()


class EventForwarder(FileSystemEventHandler):
    """The watchdog handler of one folder: forwards paths to the inbox and nothing else."""

    def __init__(self, inbox: EventInbox, folder_index: int) -> None:
        super().__init__()
        self._inbox = inbox
        self._folder_index = folder_index

    def dispatch(self, event: FileSystemEvent) -> None:
        """Called by watchdog's thread for every event; must never raise."""
        try:
            if event.event_type in _IGNORED_EVENT_TYPES:
                return
            if event.is_directory and event.event_type == EVENT_TYPE_MODIFIED:
                return  # every file change also touches its directory; the file event suffices
            for raw_path in (event.src_path, event.dest_path):
                if raw_path:
                    self._inbox.put(
                        self._folder_index,
                        os.fsdecode(raw_path),
                        is_directory=event.is_directory,
                    )
        except Exception:  # noqa: BLE001 (raising here kills watchdog's observer thread; the folder is rescanned instead)
            self._inbox.note_failure(self._folder_index)


def _native_observer() -> BaseObserver:
    return Observer()


def _polling_observer(interval: float) -> BaseObserver:
    # lstat, not watchdog's default stat: following directory symlinks would let a link loop
    # (sub/loop -> ..) recurse until the path is too long, on every poll.
    return PollingObserverVFS(os.lstat, os.scandir, polling_interval=interval)


class FolderWatcher:
    """One started observer watching one folder."""

    def __init__(self, observer: BaseObserver, mode: WatchMode, fallback_reason: str | None):
        self._observer = observer
        self.mode: WatchMode = mode
        #: Why a native watcher was not possible, when this polls instead.
        self.fallback_reason = fallback_reason

    def is_alive(self) -> bool:
        """True while the observer and its emitter run (an emitter stops on folder deletion)."""
        emitters = list(self._observer.emitters)
        if not (
            self._observer.is_alive()
            and bool(emitters)
            and all(emitter.is_alive() for emitter in emitters)
        ):
            return False
        # The inotify observer reads the kernel's events on a thread of its own. If that thread
        # dies (an exception, or a warning turned into one), the emitters wait forever and still
        # look alive; watchdog exposes the thread only as a private attribute.
        reader = getattr(self._observer, "_inotify_fd", None)
        return not isinstance(reader, threading.Thread) or reader.is_alive()

    def stop(self) -> None:
        """Ask the observer to stop (returns at once)."""
        self._observer.stop()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the observer thread to end."""
        if self._observer.is_alive():
            self._observer.join(max(timeout, 0.0))


def _start(
    factory: ObserverFactory, handler: EventForwarder, root: str, *, recursive: bool
) -> BaseObserver:
    observer = factory()
    try:
        observer.schedule(handler, root, recursive=recursive)
        observer.start()
    except BaseException:
        # A native observer owns an inotify descriptor and a reader thread from construction.
        observer.stop()
        if observer.is_alive():
            observer.join(1.0)
        raise
    return observer


def start_watcher(
    root: str,
    handler: EventForwarder,
    *,
    recursive: bool,
    mode: WatchMode,
    poll_interval: float,
    native_factory: ObserverFactory = _native_observer,
    polling_factory: Callable[[float], BaseObserver] = _polling_observer,
) -> FolderWatcher:
    """Start watching ``root``; fall back to polling when the native watcher cannot start.

    Raises FileNotFoundError / NotADirectoryError when the folder is not there, and OSError
    when even polling cannot read it.
    """
    fallback_reason: str | None = None
    if mode == "native":
        try:
            observer = _start(native_factory, handler, root, recursive=recursive)
        except (FileNotFoundError, NotADirectoryError):
            raise
        except OSError as error:
            # inotify ENOSPC (watch limit) / EMFILE (instance limit), or a file system that
            # offers no change notification: polling still works wherever listing does.
            fallback_reason = error.strerror or str(error)
        else:
            return FolderWatcher(observer, "native", None)
    observer = _start(lambda: polling_factory(poll_interval), handler, root, recursive=recursive)
    return FolderWatcher(observer, "poll", fallback_reason)
