"""The plain data intake shares with the engine: what to watch, what was found, how it stands.

Nothing here touches the disk or imports watchdog, so the engine, the status API and tests can
build and compare these values freely.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from mvsepd.errors import InputError

if TYPE_CHECKING:
    from mvsepd.config.model import FolderConfig

#: Seconds between polls when a folder is polled (network shares); watchdog's own default of
#: 1 s walks and stats the whole tree every second, which hurts on SMB/NFS.
DEFAULT_POLL_INTERVAL_SECONDS = 30.0
DEFAULT_STABILITY_SECONDS = 5.0
#: A file that stays unchanged and unfinished this long is reported as incomplete (it is still
#: watched, and taken once it is complete); the configuration's default and its reasons are in
#: ``mvsepd.config.defaults``.
DEFAULT_INCOMPLETE_AFTER_SECONDS = 600.0

FolderStatus = Literal["watching", "polling", "missing", "error", "stopped"]


@dataclass(frozen=True)
class WatchSpec:
    """One hot folder as intake watches it.

    ``patterns`` and ``ignore`` are shell patterns matched case-insensitively against the file
    *name* (never the path); a pattern written with a directory part (``**/*.wav``, the
    watchdog 7 spelling) is reduced to its last component.
    """

    path: Path
    patterns: tuple[str, ...]
    ignore: tuple[str, ...] = ()
    recursive: bool = False
    mode: Literal["native", "poll"] = "native"
    poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS
    stability_seconds: float = DEFAULT_STABILITY_SECONDS
    incomplete_after_seconds: float = DEFAULT_INCOMPLETE_AFTER_SECONDS
    #: The quiet time after the file's writer closed it (or moved it in), where the watcher
    #: reports closes (inotify); None: the stability window always.
    stability_after_close: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("native", "poll"):
            raise InputError(f"watch mode must be native or poll, not {self.mode!r}", field="watch")
        if not self.poll_interval > 0:
            raise InputError(
                f"poll_interval must be a positive number of seconds, not {self.poll_interval!r}",
                field="poll_interval",
            )
        if not self.stability_seconds >= 0:
            raise InputError(
                f"stability_seconds must be zero or more, not {self.stability_seconds!r}",
                field="stability_seconds",
            )
        if self.stability_after_close is not None and not self.stability_after_close >= 0:
            raise InputError(
                "stability_seconds_after_close must be zero or more, not "
                f"{self.stability_after_close!r}",
                field="stability_seconds_after_close",
            )
        if not self.incomplete_after_seconds >= 0:
            raise InputError(
                "incomplete_after_seconds must be zero or more, not "
                f"{self.incomplete_after_seconds!r}",
                field="incomplete_after_seconds",
            )

    @classmethod
    def from_folder_config(
        cls,
        folder: FolderConfig,
        *,
        incomplete_after_seconds: float = DEFAULT_INCOMPLETE_AFTER_SECONDS,
    ) -> WatchSpec:
        """Build the spec of one configured hot folder (its stability default included);
        ``incomplete_after_seconds`` is the folder's setting in force (its own or the
        ``defaults`` section's, which the folder alone does not know)."""
        return cls(
            path=folder.path,
            patterns=tuple(folder.patterns),
            ignore=tuple(folder.ignore),
            recursive=folder.recursive,
            mode=folder.watch,
            poll_interval=folder.poll_interval,
            stability_seconds=folder.effective_stability_seconds,
            incomplete_after_seconds=incomplete_after_seconds,
            stability_after_close=folder.stability_seconds_after_close,
        )


class FileStat(NamedTuple):
    """What intake compares to decide whether a file changed: size, mtime and inode.

    A named tuple: a rescan makes one per file, 100,000 for a large library.
    """

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, result: os.stat_result) -> FileStat:
        """Take the compared fields from an ``os.stat`` result."""
        return cls(result.st_size, result.st_mtime_ns, result.st_ino)


class Readiness(str, enum.Enum):
    """What the injected readiness check says about a file whose stat stayed unchanged."""

    READY = "ready"  # complete: may be submitted
    INCOMPLETE = "incomplete"  # still being written, as far as its content tells: wait more
    INVALID = "invalid"  # will never be usable (a text file named .wav): report it
    GONE = "gone"  # vanished


@dataclass(frozen=True)
class ReadinessVerdict:
    """A readiness answer and, for anything but READY, why, in words a user understands."""

    readiness: Readiness
    reason: str = ""


@dataclass(frozen=True)
class ReadyFile:
    """A file intake is done with: ready to submit, or given up on (``rejected_reason`` set)."""

    folder: Path
    path: Path
    relative_path: str
    stat: FileStat
    rejected_reason: str | None = None
    #: When intake judged it (wall clock; None: not said).
    ready_at: float | None = None


@dataclass(frozen=True)
class Arrival:
    """A file being waited for: still arriving, or reported incomplete (``incomplete``).

    ``waiting_seconds`` counts from when intake first saw the file; for an incomplete one, from
    its last change when that is earlier (its modification time), so a restart does not start
    the count, or the report, again. ``reason`` says why an incomplete file is not taken yet
    ("still growing", or what its audio check found).
    """

    folder: Path
    path: Path
    relative_path: str
    waiting_seconds: float
    incomplete: bool = False
    reason: str = ""


@dataclass(frozen=True)
class FolderHealth:
    """How the watching of one hot folder stands, for the status view and the log."""

    path: Path
    status: FolderStatus
    detail: str = ""


@dataclass(frozen=True)
class FolderChanges:
    """What ``Intake.reconfigure`` changed: folders watched now, let go, watched again with new
    settings."""

    added: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()
    changed: tuple[Path, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)
