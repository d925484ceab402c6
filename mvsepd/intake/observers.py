"""The watchdog side of intake (the only module in mvsepd that imports watchdog).

Owns the observers: one native observer (inotify, FSEvents, ReadDirectoryChangesW) shared by
every natively watched folder (polled folders are scanned by intake itself); the fall-back
from native to polling when the native watcher cannot start (inotify watch or instance
limits); telling whether a folder's watcher still runs; and the event hand-off.

Handlers run on watchdog's threads and an exception there kills the observer, so the handler
only records the path in an ``EventInbox`` (a coalescing dict under a lock) and sets a
``threading.Event``; every decision is made later on the engine's thread. Events are hints:
which path to look at again, nothing more; and, where the watcher reports them (inotify),
who opens and closes a file (``HandleNews``): a file its writer closed, or that was moved into
the folder, and that nobody opened since, is finished sooner.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserverVFS

WatchMode = Literal["native", "poll"]
ObserverFactory = Callable[[], BaseObserver]

# Our own readiness probe opens files; reacting to opens and read-only closes would re-arm
# every file we look at. They are counted as handles only.
_IGNORED_EVENT_TYPES = frozenset({EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})
_HANDLE_EVENT_TYPES = frozenset(
    {EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED, EVENT_TYPE_CLOSED_NO_WRITE, EVENT_TYPE_MOVED}
)


@dataclass
class HandleNews:
    """What a watcher told of a file's handles since the last drain: opens and closes (with
    or without writing), whether the last of them was an open, and whether it was closed
    after writing or moved into the folder (``finished``)."""

    opens: int = 0
    closes: int = 0
    finished: bool = False
    open_last: bool = False


#: A drain: paths to look at again (with their is-directory hint), what was told of the
#: handles of files, and the folders of which an event was lost.
Drained = tuple[dict[tuple[int, str], bool], dict[tuple[int, str], HandleNews], set[int]]


class EventInbox:
    """Paths reported by the watchers, coalesced per path, until the engine thread drains them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[tuple[int, str], bool] = {}
        self._handles: dict[tuple[int, str], HandleNews] = {}
        self._failed_folders: set[int] = set()
        self._wakeup = threading.Event()
        self._listener: Callable[[], None] | None = None

    def set_listener(self, listener: Callable[[], None] | None) -> None:
        """Call ``listener`` (from the watcher's thread) whenever something is recorded: the
        engine sleeps until then instead of asking every second."""
        self._listener = listener

    def _notify(self) -> None:
        self._wakeup.set()
        listener = self._listener
        if listener is not None:
            listener()

    def put(self, folder_index: int, path: str, *, is_directory: bool) -> None:
        """Record that ``path`` in folder ``folder_index`` should be looked at again."""
        with self._lock:
            key = (folder_index, path)
            self._paths[key] = self._paths.get(key, False) or is_directory
        self._notify()

    def put_handle(self, folder_index: int, path: str, event_type: str) -> None:
        """Record an open, a close or a move into the folder of the file ``path`` (no wake-up:
        a close or a move comes with an event of its own that wakes the engine)."""
        with self._lock:
            news = self._handles.setdefault((folder_index, path), HandleNews())
            if event_type == EVENT_TYPE_OPENED:
                news.opens += 1
                news.open_last = True
            elif event_type in (EVENT_TYPE_CLOSED, EVENT_TYPE_CLOSED_NO_WRITE):
                news.closes += 1
                news.open_last = False
                news.finished = news.finished or event_type == EVENT_TYPE_CLOSED
            else:
                news.finished = True

    def note_failure(self, folder_index: int) -> None:
        """Record that an event of this folder could not be recorded (it will be rescanned)."""
        with self._lock:
            self._failed_folders.add(folder_index)
        self._notify()

    def drain(self) -> tuple[dict[tuple[int, str], bool], set[int]]:
        """Take every recorded path (with its is-directory hint) and every failed folder (what
        was told of handles is dropped)."""
        paths, _handles, failed = self.drain_all()
        return paths, failed

    def drain_all(self) -> Drained:
        """Take every recorded path, what was told of handles, and every failed folder."""
        # Clear before taking: an event arriving in between is either taken now or sets the
        # flag again, so no wake-up is lost.
        self._wakeup.clear()
        with self._lock:
            paths, self._paths = self._paths, {}
            handles, self._handles = self._handles, {}
            failed, self._failed_folders = self._failed_folders, set()
        return paths, handles, failed

    def wait(self, timeout: float) -> bool:
        """Block until something was recorded (or ``wake``), at most ``timeout`` seconds."""
        return self._wakeup.wait(timeout)

    def wake(self) -> None:
        """Release a ``wait`` (used when intake stops, or a watcher thread died)."""
        self._notify()


class EventForwarder(FileSystemEventHandler):
    """The watchdog handler of one folder: forwards paths to the inbox and nothing else."""

    def __init__(self, inbox: EventInbox, folder_index: int) -> None:
        super().__init__()
        self._inbox = inbox
        self._folder_index = folder_index

    def dispatch(self, event: FileSystemEvent) -> None:
        """Called by watchdog's thread for every event; must never raise."""
        try:
            if not event.is_directory and event.event_type in _HANDLE_EVENT_TYPES:
                changed = event.dest_path if event.event_type == EVENT_TYPE_MOVED else None
                self._inbox.put_handle(
                    self._folder_index,
                    os.fsdecode(changed or event.src_path),
                    event.event_type,
                )
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


class _FileForwarder(FileSystemEventHandler):
    """Calls back when one file of the watched directory is written, made, moved or removed."""

    def __init__(self, path: Path, on_change: Callable[[], None]) -> None:
        super().__init__()
        self._name = path.name
        self._on_change = on_change

    def dispatch(self, event: FileSystemEvent) -> None:
        """Called by watchdog's thread; must never raise."""
        try:
            if event.event_type in _IGNORED_EVENT_TYPES or event.is_directory:
                return
            names = {
                os.path.basename(os.fsdecode(raw)) for raw in (event.src_path, event.dest_path)
            }
            if self._name in names:
                self._on_change()
        except Exception:  # noqa: BLE001 (raising here kills watchdog's observer thread)
            return


class FileWatch:
    """One file (the configuration) watched through its directory: an editor that saves by
    writing a new file and renaming it over the old is seen too.

    Where the shared observer reads inotify on one reader for all its watches (Linux, watchdog
    7), the file is watched as a callback on that reader: no thread of its own, so following
    the configuration costs an idle daemon nothing. Elsewhere (or before any folder is watched
    natively) it is a watch on the shared observer: one emitter thread.
    """

    def __init__(self, hub: NativeHub, path: Path, on_change: Callable[[], None]) -> None:
        self._hub = hub
        self._path = path
        self._on_change = on_change
        self._scheduled: tuple[BaseObserver, ObservedWatch] | None = None
        self._callback: _InotifyFileCallback | None = None

    def start(self) -> None:
        """Watch (again); OSError when the directory cannot be watched."""
        self.stop()
        reader = self._hub.inotify_reader()
        if reader is not None:
            callback = _InotifyFileCallback(reader, self._path, self._on_change)
            callback.add()
            self._callback = callback
            return
        self._scheduled = self._hub.schedule(
            _FileForwarder(self._path, self._on_change),
            os.fspath(self._path.parent),
            recursive=False,
        )

    def is_alive(self) -> bool:
        if self._callback is not None:
            return self._callback.is_alive()
        if self._scheduled is None:
            return False
        observer, watch = self._scheduled
        emitters = [emitter for emitter in list(observer.emitters) if emitter.watch == watch]
        return observer.is_alive() and all(emitter.is_alive() for emitter in emitters)

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.remove()
            self._callback = None
        if self._scheduled is not None:
            self._hub.unschedule(*self._scheduled)
            self._scheduled = None


class _InotifyFileCallback:
    """watchdog's ``WatchCallback`` for one file's directory on the shared inotify reader."""

    def __init__(self, reader: Any, path: Path, on_change: Callable[[], None]) -> None:
        from watchdog.observers.inotify_c import InotifyConstants

        self._reader = reader
        self._directory = os.fsencode(path.parent)
        self._name = os.fsencode(path.name)
        self._on_change = on_change
        # What a save does to the file (closed after writing, moved in or out, made, removed)
        # and to the directory itself; plain writes are left out, their close says enough.
        self._changes = (
            InotifyConstants.IN_CLOSE_WRITE
            | InotifyConstants.IN_MOVED_TO
            | InotifyConstants.IN_MOVED_FROM
            | InotifyConstants.IN_CREATE
            | InotifyConstants.IN_DELETE
            | InotifyConstants.IN_ATTRIB
        )
        # Added to whatever mask a watch of the same directory (a hot folder) already has.
        self._mask = self._changes | InotifyConstants.IN_MASK_ADD
        self._descriptor: Any = None
        self._deleted = False

    def add(self) -> None:
        self._descriptor = self._reader.add_callback(self._directory, self._mask, self, id(self))

    def remove(self) -> None:
        if self._descriptor is not None and not self._deleted:
            with contextlib.suppress(OSError):
                self._reader.remove_callbacks([(self._descriptor, id(self))])
        self._descriptor = None

    def is_alive(self) -> bool:
        return not self._deleted and bool(self._reader.is_alive())

    # watchdog's WatchCallback, called on its dispatch thread: must never raise.

    def on_event(self, event: Any) -> None:
        with contextlib.suppress(Exception):
            if event.name == self._name and event.mask & self._changes:
                self._on_change()

    def on_watch_deleted(self, _descriptor: Any) -> None:
        self._deleted = True  # the directory went; supervision watches it again

    def on_queue_overflow(self) -> None:
        return

    def on_events_lost(self) -> None:
        with contextlib.suppress(Exception):
            self._on_change()  # the file may have changed unseen: read it again


def _native_observer() -> BaseObserver:
    return Observer()


def _polling_observer(interval: float) -> BaseObserver:
    # lstat, not watchdog's default stat: following directory symlinks would let a link loop
    # (sub/loop -> ..) recurse until the path is too long, on every poll.
    return PollingObserverVFS(os.lstat, os.scandir, polling_interval=interval)


def _reader_alive(observer: BaseObserver) -> bool:
    # The inotify observer reads the kernel's events on a thread of its own. If that thread
    # dies (an exception, or a warning turned into one), the emitters wait forever and still
    # look alive; watchdog exposes the thread only as a private attribute.
    reader = getattr(observer, "_inotify_fd", None)
    return not isinstance(reader, threading.Thread) or reader.is_alive()


class FolderWatcher:
    """One folder being watched: by an observer of its own, or by a watch on a shared one."""

    def __init__(
        self,
        observer: BaseObserver,
        mode: WatchMode,
        fallback_reason: str | None,
        *,
        watch: ObservedWatch | None = None,
        hub: NativeHub | None = None,
    ):
        self._observer = observer
        self._watch = watch
        self._hub = hub
        self.mode: WatchMode = mode
        #: Why a native watcher was not possible, when this polls instead.
        self.fallback_reason = fallback_reason

    @property
    def reports_closes(self) -> bool:
        """True when the watcher tells when a file's writer closes it (inotify on Linux; not
        FSEvents, ReadDirectoryChangesW or polling)."""
        return self.mode == "native" and _reports_closes(self._observer)

    def is_alive(self) -> bool:
        """True while the observer and this folder's emitter run (an emitter stops when its
        folder is deleted)."""
        emitters = [
            emitter
            for emitter in list(self._observer.emitters)
            if self._watch is None or emitter.watch == self._watch
        ]
        if not (
            self._observer.is_alive()
            and bool(emitters)
            and all(emitter.is_alive() for emitter in emitters)
        ):
            return False
        return _reader_alive(self._observer)

    def stop(self) -> None:
        """Stop watching (returns at once): the folder's watch on a shared observer, else its
        own observer."""
        if self._hub is not None and self._watch is not None:
            self._hub.unschedule(self._observer, self._watch)
        else:
            self._observer.stop()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for an observer of its own to end."""
        if self._hub is None and self._observer.is_alive():
            self._observer.join(max(timeout, 0.0))


class NativeHub:
    """One native observer for every natively watched folder.

    Each observer costs a dispatcher thread and (with inotify) a descriptor and a reader
    thread of its own; with one for all folders, 10 folders run 12 watchdog threads instead
    of 30. A folder's watch is scheduled on it and removed again without touching the others;
    when the observer itself dies, the next folder to start gets a new one (and each of the
    others finds its watch dead at supervision and starts again there).
    """

    def __init__(self, factory: ObserverFactory = _native_observer) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._observer: BaseObserver | None = None

    def schedule(
        self, handler: FileSystemEventHandler, root: str, *, recursive: bool
    ) -> tuple[BaseObserver, ObservedWatch]:
        """Watch ``root`` on the shared observer (started on first use); OSError as
        ``observer.schedule`` raises it."""
        with self._lock:
            observer = self._observer
            if observer is None or not observer.is_alive() or not _reader_alive(observer):
                if observer is not None:
                    _stop_quietly(observer)
                observer = self._factory()
                observer.start()
                self._observer = observer
            return observer, observer.schedule(handler, root, recursive=recursive)

    def inotify_reader(self) -> Any | None:
        """The running observer's inotify reader, when it has one that takes callbacks of its
        own (watchdog 7's ``InotifyFD``); None otherwise."""
        with self._lock:
            observer = self._observer
            if observer is None or not observer.is_alive():
                return None
            # Private in watchdog, as in _reader_alive: the reader is made on the first watch.
            reader = getattr(observer, "_inotify_fd", None)
            if not hasattr(reader, "add_callback") or not _reader_alive(observer):
                return None
            return reader

    def unschedule(self, observer: BaseObserver, watch: ObservedWatch) -> None:
        """Stop one folder's watch (nothing when that observer or watch is gone already)."""
        with self._lock, contextlib.suppress(KeyError, OSError):
            observer.unschedule(watch)

    def stop(self, timeout: float) -> None:
        """Stop the shared observer and wait up to ``timeout`` seconds for it."""
        with self._lock:
            observer, self._observer = self._observer, None
        if observer is not None:
            _stop_quietly(observer)
            if observer.is_alive():
                observer.join(max(timeout, 0.0))


def _reports_closes(observer: BaseObserver) -> bool:
    try:
        from watchdog.observers.inotify import InotifyObserver
    except Exception:  # noqa: BLE001 (not Linux: no inotify, and no report of closes)
        return False
    return isinstance(observer, InotifyObserver)


class ScanPolling:
    """A polled folder with no observer of its own: intake scans it every ``interval``
    seconds on the engine's thread (what a polling observer does on two threads per folder,
    and the scan finds the same files). Looks like a ``FolderWatcher`` to the folder."""

    mode: WatchMode = "poll"
    reports_closes = False

    def __init__(self, interval: float, fallback_reason: str | None) -> None:
        self.interval = interval
        self.fallback_reason = fallback_reason
        self._stopped = False

    def is_alive(self) -> bool:
        """True until stopped (there is no thread to die)."""
        return not self._stopped

    def stop(self) -> None:
        """Stop polling."""
        self._stopped = True

    def join(self, timeout: float) -> None:
        """Nothing to wait for."""


def _stop_quietly(observer: BaseObserver) -> None:
    with contextlib.suppress(Exception):
        observer.stop()


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
    hub: NativeHub | None = None,
) -> FolderWatcher | ScanPolling:
    """Start watching ``root``; fall back to polling when the native watcher cannot start.

    With ``hub`` (how intake runs it) native watching is a watch on the hub's shared observer
    and polling is ``ScanPolling`` (intake's own scans); without, each folder gets an observer
    of its own.

    Raises FileNotFoundError / NotADirectoryError when the folder is not there, and OSError
    when even polling cannot read it.
    """
    fallback_reason: str | None = None
    if mode == "native" and hub is not None:
        try:
            shared, watch = hub.schedule(handler, root, recursive=recursive)
        except (FileNotFoundError, NotADirectoryError):
            raise
        except OSError as error:
            fallback_reason = error.strerror or str(error)
        else:
            return FolderWatcher(shared, "native", None, watch=watch, hub=hub)
    elif mode == "native":
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
    if hub is not None:
        # Run by intake: polled by its own scans. Listing once now raises what a polling
        # observer would (a folder that is gone or unreadable).
        with os.scandir(root) as entries:
            next(entries, None)
        return ScanPolling(poll_interval, fallback_reason)
    observer = _start(lambda: polling_factory(poll_interval), handler, root, recursive=recursive)
    return FolderWatcher(observer, "poll", fallback_reason)
