"""The candidate tracker: when a file seen in a hot folder counts as completely written.

Watcher events and scans only *offer* paths. A candidate remembers its (size, mtime_ns, inode)
at the last change; once the folder's stability window has passed without a change it is
re-examined: a changed stat starts the window again, an unchanged one goes through the open
probe and the injected readiness check. READY is returned once per stable version, INVALID at
once with a reason. INCOMPLETE waits another window; a file that has stayed unchanged and
incomplete for the folder's ``incomplete_after_seconds`` is *reported* (``arrivals`` marks it
incomplete, with the reason) and is still watched: when it is complete it is returned as usual
and the report goes. Nothing is given up. Empty files are INCOMPLETE without asking the
readiness check (exports start empty).

Where the watcher reports who opens and closes files (inotify), a file whose writer closed it
(or that was moved into the folder) and that nobody holds open needs only the folder's
``stability_after_close`` unchanged, not the whole window (``candidates.Candidate.window``).

How long a file has been unchanged is re-derived from the file as it stands: a file first seen
(at start-up, say) counts from its modification time, so a file that was already reported
incomplete before a restart is reported again at its first check, not a window later; nothing
about it needs to be kept across the restart.

Everything here runs on the caller's thread (the engine's); time comes from the ``now`` the
caller passes, which ``Intake`` takes from its injected clock, and a file's age from the
injected wall clock (modification times are wall-clock times).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from mvsepd.intake.candidates import Candidate, FileSite
from mvsepd.intake.filters import file_stat_if_regular
from mvsepd.intake.observers import HandleNews
from mvsepd.intake.records import FileStat, Readiness, ReadinessVerdict, ReadyFile
from mvsepd.intake.texts import IntakeLogger, describe_error, duration_words, log_fields

ReadinessCheck = Callable[[Path], ReadinessVerdict]
KnownCheck = Callable[[Path, str, FileStat], bool]
#: Every file a folder's owner already handled, by relative path: its (size, mtime_ns).
KnownSnapshot = Callable[[Path], Mapping[str, tuple[int, int]]]

#: Shortest pause between two readiness checks of a file that stays incomplete, so that a
#: stability window of 0 s cannot turn a stuck file into a busy loop.
MINIMUM_RECHECK_SECONDS = 1.0
#: How often a file reported incomplete is checked again while its stat stays the same (a
#: change, or a watcher's event about it, brings the check forward): its content cannot have
#: changed, short of a header patched within the file system's time resolution.
REPORTED_RECHECK_SECONDS = 60.0
#: The reason of a reported file that changed since: it is being written again.
STILL_GROWING = "still growing"


class Waiting(NamedTuple):
    """A candidate as published for other threads: ``since`` is a clock time (first seen, or
    for a reported one when waiting began)."""

    folder: Path
    path: Path
    relative_path: str
    since: float
    incomplete: bool
    reason: str


class CandidateTracker:
    """Candidates being checked, and the versions already settled (returned or known)."""

    def __init__(
        self,
        *,
        readiness: ReadinessCheck,
        is_known: KnownCheck,
        logger: IntakeLogger,
        wall_clock: Callable[[], float],
        own_reads: Callable[[str], int] = lambda path: 0,
    ) -> None:
        self._readiness = readiness
        self._is_known = is_known
        self._logger = logger
        self._wall_clock = wall_clock
        self._own_reads = own_reads
        #: Candidates whose writer closed them since the last ``take_closed``.
        self._closed: list[Path] = []
        self._candidates: dict[str, Candidate] = {}
        # Path -> (folder, stat) of versions intake is done with; only a new stat re-opens them.
        self._settled: dict[str, tuple[Path, FileStat]] = {}
        # The keys of ``_settled`` by folder, so a full scan prunes its own in O(its files).
        self._settled_keys: dict[Path, set[str]] = {}
        self._ignored_logged: set[str] = set()

    def is_settled(self, key: str, stat: FileStat) -> bool:
        """True when intake is done with this version of the file at ``key`` (a rescan then
        needs nothing more: no site is built for it)."""
        settled = self._settled.get(key)
        return settled is not None and settled[1] == stat

    def offer(self, site: FileSite, stat: FileStat, now: float, *, from_event: bool) -> bool:
        """Take note of a file; True when it became a new candidate.

        An event is evidence of activity even when the stat looks the same (coarse mtimes, a
        header patched in place), so it restarts the window; a scan that finds nothing new
        does not, or periodic scans would hold files back.
        """
        key = os.fspath(site.path)
        settled = self._settled.get(key)
        if settled is not None and settled[1] == stat:
            return False
        candidate = self._candidates.get(key)
        if candidate is not None:
            if candidate.stat != stat:
                self._restart(candidate, stat, now)
            elif from_event:
                candidate.last_change = now
                # A reported file waits long between checks; news of it is worth a look.
                candidate.next_check = now if candidate.reported else max(candidate.next_check, now)
            return False
        if self._known(site, stat):
            self._mark_settled(key, site.folder, stat)
            return False
        self._unsettle(key)
        # Unchanged since its modification time, as far as the file tells (never in the future).
        age = max(0.0, self._wall_clock() - stat.mtime_ns / 1e9)
        self._candidates[key] = Candidate(
            site=site,
            stat=stat,
            first_seen=now,
            last_change=now,
            next_check=now,
            waiting_since=now - age,
            unchanged_since=now - age,
        )
        return True

    def note_handles(self, path: str, news: HandleNews, now: float) -> None:
        """What the watcher told of a candidate's handles (see the module docstring)."""
        candidate = self._candidates.get(path)
        if candidate is None:
            return
        handles = max(0, candidate.handles + news.opens - news.closes)
        candidate.handles = max(handles, 1) if news.open_last else handles
        if news.finished and candidate.handles == 0:
            candidate.closed_at = now
            if candidate.site.stability_after_close is not None:
                self._closed.append(candidate.site.path)

    def take_closed(self) -> list[Path]:
        """Candidates whose writer closed them since the last call (they may be ready soon)."""
        closed, self._closed = self._closed, []
        return closed

    def forget(self, path: str, *, subtree: bool = False) -> None:
        """Drop what is known about ``path`` (and, for a directory, everything below it)."""
        self._candidates.pop(path, None)
        self._unsettle(path)
        if subtree:
            prefix = path.rstrip(os.sep) + os.sep
            for key in [key for key in self._candidates if key.startswith(prefix)]:
                del self._candidates[key]
            for key in [key for key in self._settled if key.startswith(prefix)]:
                self._unsettle(key)

    def drop_folder(self, folder: Path) -> None:
        """Stop checking every candidate of a folder (it vanished); settled versions stay."""
        for key in [key for key, item in self._candidates.items() if item.site.folder == folder]:
            del self._candidates[key]

    def forget_settled(self, folder: Path) -> None:
        """Forget every settled version of ``folder`` (its files are offered afresh)."""
        for key in list(self._settled_keys.get(folder, ())):
            self._unsettle(key)

    def prune_settled(self, folder: Path) -> None:
        """Forget settled versions of ``folder`` that are no longer on disk (after a complete
        scan; the table holds only files handled since start-up, not the whole folder)."""
        for key in list(self._settled_keys.get(folder, ())):
            if not os.path.lexists(key):
                self._unsettle(key)

    def pending(self) -> list[tuple[Path, float]]:
        """Candidates being checked, with the time each was first seen."""
        return [(item.site.path, item.first_seen) for item in self._candidates.values()]

    def waiting(self) -> list[Waiting]:
        """Every candidate as ``Waiting``: arriving, or reported incomplete with its reason."""
        return [
            Waiting(
                item.site.folder,
                item.site.path,
                item.site.relative_path,
                item.waiting_since if item.reported else item.first_seen,
                item.reported,
                item.reason if item.reported else "",
            )
            for item in self._candidates.values()
        ]

    def next_recheck(self) -> float:
        """When the first file reported incomplete is next examined (inf when there is none);
        files still arriving are the engine's to watch closely (see ``Intake.arriving``)."""
        return min(
            (item.due_at for item in self._candidates.values() if item.reported),
            default=float("inf"),
        )

    def next_arrival_due(self) -> float:
        """When the first file still arriving (not reported incomplete) is next examined, its
        window over (inf when there is none)."""
        return min(
            (item.due_at for item in self._candidates.values() if not item.reported),
            default=float("inf"),
        )

    def arriving(self) -> bool:
        """True while a file not (yet) reported incomplete is being checked."""
        return any(not item.reported for item in self._candidates.values())

    def is_candidate(self, path: str) -> bool:
        """True while ``path`` is being checked."""
        return path in self._candidates

    def due(self, now: float) -> list[ReadyFile]:
        """Check every candidate whose window has passed; return the ones intake is done with."""
        finished: list[ReadyFile] = []
        for key, candidate in list(self._candidates.items()):
            quiet_for = now - candidate.last_change
            window = candidate.window_with(self._own_reads(key))
            if quiet_for < window or now < candidate.next_check:
                continue
            outcome = self._check(key, candidate, now)
            if outcome is not None:
                finished.append(outcome)
        return finished

    # The checks.

    def _check(self, key: str, candidate: Candidate, now: float) -> ReadyFile | None:
        site = candidate.site
        try:
            current = self._stat(site)
        except FileNotFoundError:
            self._drop(key, "gone")
            return None
        except OSError as error:
            verdict = ReadinessVerdict(
                Readiness.INCOMPLETE, f"it cannot be examined ({describe_error(error)})"
            )
            return self._not_ready(key, candidate, verdict, now)
        if current is None:
            self._drop(key, "no longer a regular file inside the folder")
            return None
        if current != candidate.stat:
            self._restart(candidate, current, now)
            return None
        if self._known(site, current):
            self._settle(key, site, current)
            return None
        verdict = self._judge(site, current)
        if verdict.readiness is not Readiness.READY:
            return self._not_ready(key, candidate, verdict, now)
        # The readiness check read the file; a writer may have appended meanwhile.
        try:
            after = self._stat(site)
        except OSError:
            after = None
        if after != current:
            if after is None:
                self._drop(key, "gone while checked")
            else:
                self._restart(candidate, after, now)
            return None
        self._settle(key, site, current)
        if candidate.reported:
            self._logger.info(log_fields("file complete now", path=site.path, size=current.size))
        else:
            self._logger.debug(log_fields("file ready", path=site.path, size=current.size))
        return ReadyFile(
            site.folder, site.path, site.relative_path, current, ready_at=self._wall_clock()
        )

    def _judge(self, site: FileSite, stat: FileStat) -> ReadinessVerdict:
        if stat.size == 0:
            return ReadinessVerdict(Readiness.INCOMPLETE, "the file is empty")
        try:
            # Opening is a readiness signal of its own: on Windows a file another program
            # still writes refuses to open, and an unreadable file is better said than uploaded.
            with open(site.path, "rb") as handle:
                handle.read(1)
        except FileNotFoundError:
            return ReadinessVerdict(Readiness.GONE)
        except OSError as error:
            return ReadinessVerdict(
                Readiness.INCOMPLETE,
                f"it cannot be opened ({describe_error(error)}); "
                "another program may still be writing it",
            )
        try:
            return self._readiness(site.path)
        except Exception as error:  # the check is foreign code; one bad file must not stop intake
            self._logger.warning(
                log_fields("readiness check failed", path=site.path, error=repr(error)),
                exc_info=True,
            )
            return ReadinessVerdict(Readiness.INCOMPLETE, "the audio check failed on it")

    def _not_ready(
        self, key: str, candidate: Candidate, verdict: ReadinessVerdict, now: float
    ) -> ReadyFile | None:
        site = candidate.site
        if verdict.readiness is Readiness.GONE:
            self._drop(key, "gone")
            return None
        if verdict.readiness is Readiness.INVALID:
            reason = verdict.reason or "it is not audio mvsepd can use"
            self._settle(key, site, candidate.stat)
            self._logger.warning(log_fields("file rejected", path=site.path, reason=reason))
            return ReadyFile(site.folder, site.path, site.relative_path, candidate.stat, reason)
        # Incomplete: reported once it has stayed unchanged (and incomplete) for the folder's
        # window, so a file that grows for an hour with pauses is not reported while it is
        # still being written; it is watched on, and taken once complete.
        detail = verdict.reason or "it looks unfinished"
        unchanged = now - candidate.unchanged_since
        if not candidate.reported and unchanged >= site.incomplete_after_seconds:
            candidate.reported = True
            self._logger.warning(
                log_fields(
                    "file incomplete",
                    path=site.path,
                    reason=detail,
                    unchanged_for=duration_words(unchanged),
                    note="reported until it is complete; it is taken then",
                )
            )
        elif detail != candidate.reason:
            self._logger.debug(log_fields("file not complete yet", path=site.path, reason=detail))
        candidate.reason = detail
        candidate.last_change = now
        pause = max(site.stability_seconds, MINIMUM_RECHECK_SECONDS)
        candidate.next_check = now + (
            max(pause, REPORTED_RECHECK_SECONDS) if candidate.reported else pause
        )
        return None

    # Book-keeping.

    def _stat(self, site: FileSite) -> FileStat | None:
        return file_stat_if_regular(site.view, os.fspath(site.path), on_ignored=self.note_ignored)

    def note_ignored(self, path: str, why: str) -> None:
        """Log (once per path, at info: the user looks there) a matching name passed over."""
        if path not in self._ignored_logged:
            self._ignored_logged.add(path)
            self._logger.info(log_fields("file ignored", path=path, reason=why))

    def _known(self, site: FileSite, stat: FileStat) -> bool:
        try:
            return self._is_known(site.folder, site.relative_path, stat)
        except Exception as error:  # foreign code (the store): check the file rather than stop
            self._logger.warning(
                log_fields("is_known check failed", path=site.path, error=repr(error)),
                exc_info=True,
            )
            return False

    @staticmethod
    def _restart(candidate: Candidate, stat: FileStat, now: float) -> None:
        candidate.stat = stat
        candidate.last_change = now
        candidate.next_check = now
        candidate.unchanged_since = now
        # A reported file stays reported (with this reason) until it is complete: a report
        # that came and went with each burst of writing would say less.
        candidate.reason = STILL_GROWING if candidate.reported else ""

    def _settle(self, key: str, site: FileSite, stat: FileStat) -> None:
        self._candidates.pop(key, None)
        self._mark_settled(key, site.folder, stat)

    def _mark_settled(self, key: str, folder: Path, stat: FileStat) -> None:
        previous = self._settled.get(key)
        if previous is not None and previous[0] != folder:
            self._settled_keys.get(previous[0], set()).discard(key)
        self._settled[key] = (folder, stat)
        keys = self._settled_keys.get(folder)
        if keys is None:
            keys = self._settled_keys[folder] = set()
        keys.add(key)

    def _unsettle(self, key: str) -> None:
        previous = self._settled.pop(key, None)
        if previous is not None:
            self._settled_keys.get(previous[0], set()).discard(key)

    def _drop(self, key: str, why: str) -> None:
        candidate = self._candidates.pop(key, None)
        self._unsettle(key)
        if candidate is not None:
            self._logger.debug(log_fields("candidate dropped", path=candidate.site.path, why=why))
