"""The tray's view model: a status picture in, what the tray shows out (pure, no pystray).

``build_view`` turns the status API's picture (or None when no daemon answers) into the icon's
state, a one-line tooltip and the menu as plain entries; ``Notifications`` remembers which
takes and jobs it has seen finish so that each take's "stems ready" (once all its stems are
placed, not per stem or per preset) and each job's "failed" is announced once, across
reconnects, and never for what was already finished when the tray started.

The badge counts the files still to come (every job not finished yet, and files arriving);
its colour says what the most advanced of them is doing. Red means a failure nobody has
dismissed yet (the picture's ``dismissed``, kept by the daemon), a refused token or an
unreachable studio database.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvsepd.statusapi.words import WORKING_PHASES, ordinal
from mvsepd.tray.badge import IconState, Tone

#: Windows cuts tooltips at 127 characters; every backend gets the same text.
TOOLTIP_LIMIT = 127
#: A menu line is cut here: a job's words can run to a paragraph (a held job's reason), and a
#: menu as wide as that runs off the screen; the whole text is in `mvsepd status`.
MENU_LINE_LIMIT = 80
#: Finished jobs listed under "Recent".
RECENT_ITEMS = 5
#: Takes listed below the first item, each opening its page.
RECENT_TAKES = 3
#: Jobs listed one by one at the top of the menu.
LISTED_JOBS = 15
_ACTIVE_PHASES = WORKING_PHASES


@dataclass(frozen=True)
class MenuEntry:
    """One menu line: its words and what clicking it does (``action`` empty: not clickable)."""

    text: str
    action: str = ""
    argument: str = ""
    enabled: bool = True
    default: bool = False

    @property
    def separator(self) -> bool:
        """True for the line between groups."""
        return self.text == "-"


SEPARATOR = MenuEntry("-")


@dataclass(frozen=True)
class TrayView:
    """Everything the tray shows at one moment."""

    icon: IconState
    tooltip: str
    menu: tuple[MenuEntry, ...]
    reachable: bool
    paused: bool = False
    retry_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Notice:
    """A desktop notification (``take``: the take whose page a click on it opens)."""

    title: str
    message: str
    take: int | None = None


def _jobs(picture: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [job for job in picture.get("jobs", []) if isinstance(job, Mapping)]


def _active(jobs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [job for job in jobs if job.get("phase") in _ACTIVE_PHASES]


def _alarming_failures(jobs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Jobs that need the user (failed, or stems MVSEP did not publish) nobody dismissed yet."""
    return [
        job
        for job in jobs
        if job.get("phase") in ("failed", "unpublished") and not job.get("dismissed")
    ]


def _config_refused(picture: Mapping[str, Any]) -> bool:
    """True while a change of the configuration file is refused (the old one in force)."""
    config = picture.get("config") or {}
    return not config.get("in_force", True)


def files_to_come(picture: Mapping[str, Any]) -> int:
    """Files whose stems are still to come: every unfinished job, and files arriving."""
    arriving = picture.get("arriving") or []
    return len(_active(_jobs(picture))) + (len(arriving) if isinstance(arriving, list) else 0)


def next_waiting(jobs: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The job waiting at MVSEP with the smallest known queue position, if any."""
    waiting = [
        job for job in jobs if job.get("phase") == "waiting" and (job.get("current_order") or 0) > 0
    ]
    return min(waiting, key=lambda job: int(job["current_order"])) if waiting else None


def latest_stems(picture: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The take whose stems arrived last (a done job with its stems folder), if any."""
    if picture is None:
        return None
    done = [job for job in _jobs(picture) if job.get("phase") == "done" and job.get("output_dir")]
    return max(done, key=_finish_order) if done else None


def _finish_order(job: Mapping[str, Any]) -> tuple[float, int]:
    return float(job.get("finished_at") or 0), int(job.get("id") or 0)


def icon_state(picture: Mapping[str, Any] | None) -> IconState:
    """What the icon shows for a picture (None: the daemon cannot be reached)."""
    if picture is None:
        return IconState("offline", "offline")
    jobs = _jobs(picture)
    alert = (
        bool(_alarming_failures(jobs))
        or not picture.get("account", {}).get("token_valid", True)
        or bool((picture.get("studio") or {}).get("outage"))
        or _config_refused(picture)
    )
    paused = bool(picture.get("daemon", {}).get("paused"))
    count = files_to_come(picture)
    if count == 0:
        if alert:
            return IconState("error", "error")
        return IconState("paused", "paused") if paused else IconState("idle", "idle")
    phases = {str(job.get("phase")) for job in jobs}
    tone: Tone = "waiting"
    if alert:
        tone = "error"
    elif paused:
        tone = "paused"
    elif "downloading" in phases:
        tone = "downloading"
    elif phases & {"uploading", "processing", "publishing"}:
        tone = "processing"
    return IconState("number", tone, count)


def tooltip(picture: Mapping[str, Any] | None, problem: str = "") -> str:
    """One line: "1 arriving · 2 waiting (next: 3rd of 12) · 1 processing · 4 done today"."""
    if picture is None:
        words = problem or "mvsepd is not running"
        return _clip(words if words.startswith("mvsepd") else f"mvsepd: {words}")
    jobs = _jobs(picture)
    phases = [str(job.get("phase")) for job in jobs]
    parts: list[str] = []
    arriving = files_to_come(picture) - len(_active(jobs))
    if arriving:
        parts.append(f"{arriving} arriving")
    waiting = phases.count("waiting") + phases.count("queued")
    if waiting:
        upcoming = next_waiting(jobs)
        detail = ""
        if upcoming is not None:
            count = upcoming.get("queue_count")
            of_count = f" of {count}" if count else ""
            detail = f" (next: {ordinal(int(upcoming['current_order']))}{of_count})"
        parts.append(f"{waiting} waiting{detail}")
    busy = sum(phases.count(name) for name in ("checking", "uploading", "processing", "publishing"))
    if busy:
        parts.append(f"{busy} processing")
    if phases.count("downloading"):
        parts.append(f"{phases.count('downloading')} downloading")
    parts.append(f"{int(picture.get('done_today', 0))} done today")
    failed = len(_alarming_failures(jobs))
    if failed:
        parts.append(f"{failed} failed")
    if not picture.get("account", {}).get("token_valid", True):
        parts.append("API token refused")
    studio = picture.get("studio") or {}
    if studio.get("outage"):
        parts.append("studio database unreachable")
    if _config_refused(picture):
        parts.append("configuration refused (mvsepd status)")
    if picture.get("daemon", {}).get("paused"):
        parts.append("paused (whole studio)" if studio else "paused")
    return _clip(" · ".join(parts))


def _clip(text: str, limit: int = TOOLTIP_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _recent(jobs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    finished = [
        job for job in jobs if job.get("phase") in ("done", "failed", "cancelled", "unpublished")
    ]
    finished.sort(key=_finish_order, reverse=True)
    return finished[:RECENT_ITEMS]


def _result_entry(job: Mapping[str, Any]) -> MenuEntry:
    name = str(job.get("file", "?"))
    if job.get("phase") == "done" and job.get("output_dir"):
        return MenuEntry(f"{name}: stems ready", "open", str(job["output_dir"]))
    words = {"failed": "failed", "unpublished": "stems not published by MVSEP"}.get(
        str(job.get("phase")), "cancelled"
    )
    return MenuEntry(f"{name}: {words}", "open", str(job.get("folder", "")))


#: The first item (and the left click): mvsepd's page in the browser, signed in.
OPEN_PAGE = MenuEntry("Open mvsepd", "open_page", default=True)


def _stems(picture: Mapping[str, Any] | None) -> MenuEntry:
    """The second item: the latest take's stems folder, one click away."""
    latest = latest_stems(picture)
    if latest is None:
        return MenuEntry("Open stems folder (none yet)", "open_latest", enabled=False)
    return MenuEntry(f"Open stems folder ({latest.get('file', '?')})", "open_latest")


def menu(
    picture: Mapping[str, Any] | None,
    *,
    problem: str = "",
    owns_daemon: bool = False,
    status_line: bool = False,
) -> tuple[MenuEntry, ...]:
    """The menu, top to bottom: (the tooltip's line where the backend shows no tooltip), the
    page, the latest stems, the last takes (each opens its page), jobs, recent results,
    controls, files, quit."""
    entries: list[MenuEntry] = []
    if status_line:
        entries.append(MenuEntry(tooltip(picture, problem), enabled=False))
    entries.append(OPEN_PAGE)
    entries.append(_stems(picture))
    for take in recent_takes(picture):
        entries.append(MenuEntry(f"Listen: {take.get('file', '?')}", "open_take", str(take["id"])))
    entries.append(SEPARATOR)
    if picture is None:
        if not status_line:
            entries.append(MenuEntry(problem or "mvsepd is not running", enabled=False))
    else:
        jobs = _jobs(picture)
        active = _active(jobs)
        for job in active[:LISTED_JOBS]:
            entries.append(
                MenuEntry(
                    _clip(
                        f"{job.get('file', '?')}: {job.get('summary', job.get('state'))}",
                        MENU_LINE_LIMIT,
                    ),
                    enabled=False,
                )
            )
        if len(active) > LISTED_JOBS:
            more = len(active) - LISTED_JOBS
            entries.append(MenuEntry(f"... and {more} more (mvsepd jobs)", enabled=False))
        if not active:
            entries.append(MenuEntry("No jobs waiting", enabled=False))
        recent = _recent(jobs)
        if recent:
            entries.append(SEPARATOR)
            entries.append(MenuEntry("Recent results", enabled=False))
            entries.extend(_result_entry(job) for job in recent)
        entries.append(SEPARATOR)
        if picture.get("daemon", {}).get("paused"):
            entries.append(MenuEntry("Resume", "resume"))
        else:
            entries.append(MenuEntry("Pause", "pause"))
        # Only where another try can help: a file or settings to fix are said in the job's
        # own line instead.
        again = [job for job in jobs if job.get("retry_offered")]
        if again:
            entries.append(MenuEntry(f"Retry failed ({len(again)})", "retry_failed"))
        if _alarming_failures(jobs):
            entries.append(MenuEntry("Dismiss failures", "dismiss_failed"))
    entries.append(SEPARATOR)
    entries.append(MenuEntry("Open log", "open_log"))
    entries.append(MenuEntry("Open config", "open_config"))
    entries.append(SEPARATOR)
    entries.append(MenuEntry("Quit tray", "quit_tray"))
    if owns_daemon:
        entries.append(MenuEntry("Quit daemon", "quit_daemon"))
    return tuple(entries)


def build_view(
    picture: Mapping[str, Any] | None,
    *,
    problem: str = "",
    owns_daemon: bool = False,
    status_line: bool = False,
) -> TrayView:
    """Everything the tray shows for a picture (None: the daemon cannot be reached).

    ``status_line`` puts the tooltip's words at the top of the menu too, for backends that
    show no tooltip (AppIndicator, the X11 tray).
    """
    retry_ids: tuple[int, ...] = ()
    paused = False
    if picture is not None:
        retry_ids = tuple(int(job["id"]) for job in _jobs(picture) if job.get("retry_offered"))
        paused = bool(picture.get("daemon", {}).get("paused"))
    return TrayView(
        icon=icon_state(picture),
        tooltip=tooltip(picture, problem),
        menu=menu(picture, problem=problem, owns_daemon=owns_daemon, status_line=status_line),
        reachable=picture is not None,
        paused=paused,
        retry_ids=retry_ids,
    )


@dataclass
class Notifications:
    """Says once when a take's stems are ready or a job failed, and when the token is
    refused."""

    _finished: set[int] = field(default_factory=set)
    _takes_announced: set[int] = field(default_factory=set)
    _seeded: bool = False
    _token_valid: bool = True
    _studio_reachable: bool = True

    def update(self, picture: Mapping[str, Any]) -> list[Notice]:
        """Return the notices this picture calls for (none for the first one): one "Stems
        ready" per take once all its stems are placed (per job from a daemon that names no
        takes), one per failed job."""
        takes = picture.get("takes")
        notices: list[Notice] = []
        if isinstance(takes, list):
            notices += self._takes_done([take for take in takes if isinstance(take, Mapping)])
        for job in _jobs(picture):
            job_id = job.get("id")
            phase = job.get("phase")
            wanted = ("failed", "unpublished") if isinstance(takes, list) else _ENDED
            if not isinstance(job_id, int) or phase not in wanted:
                continue
            if job_id in self._finished:
                continue
            self._finished.add(job_id)
            if not self._seeded:
                continue
            name = str(job.get("file", "a track"))
            if phase == "done":
                where = job.get("output_dir")
                folder = f" in {Path(str(where)).name}" if where else ""
                notices.append(Notice("Stems ready", f"{name}: stems ready{folder}"))
            elif phase == "unpublished":
                notices.append(Notice("Stems not published", f"{name}: {job.get('summary')}"))
            else:
                notices.append(
                    Notice("Separation failed", f"{name}: {job.get('error') or 'failed'}")
                )
        token_valid = bool(picture.get("account", {}).get("token_valid", True))
        if self._seeded and self._token_valid and not token_valid:
            notices.append(
                Notice("MVSEP refused the API token", "Submissions are held; run `mvsepd login`.")
            )
        self._token_valid = token_valid
        reachable = not (picture.get("studio") or {}).get("outage")
        if self._seeded and self._studio_reachable != reachable:
            notices.append(
                Notice("Studio database back", "Submissions go on.")
                if reachable
                else Notice(
                    "Studio database unreachable",
                    "Watching goes on; new uploads wait until it is back.",
                )
            )
        self._studio_reachable = reachable
        self._seeded = True
        return notices

    def _takes_done(self, takes: list[Mapping[str, Any]]) -> list[Notice]:
        notices = []
        for take in takes:
            take_id = take.get("id")
            if not isinstance(take_id, int) or take.get("phase") != "done":
                continue
            if take_id in self._takes_announced:
                continue
            self._takes_announced.add(take_id)
            if self._seeded:
                notices.append(
                    Notice("Stems ready", f"{take.get('file', 'a take')}: {_ready(take)}", take_id)
                )
        return notices


_ENDED = ("done", "failed", "unpublished")


def _ready(take: Mapping[str, Any]) -> str:
    """ "stems ready in Take 1" (its stems folder), with how many results a fan-out made."""
    folders = sorted({Path(str(where)) for where in take.get("output_dirs") or []})
    if not folders:
        return "stems ready"
    if len(folders) == 1:
        return f"stems ready in {folders[0].name}"
    common = Path(os.path.commonpath([str(folder) for folder in folders]))
    return f"stems ready in {common.name} ({len(folders)} results)"


def recent_takes(picture: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The last few takes that are done, newest first (the menu opens each one's page)."""
    if picture is None:
        return []
    takes = picture.get("takes")
    if not isinstance(takes, list):
        return []
    done = [
        take
        for take in takes
        if isinstance(take, Mapping) and take.get("phase") == "done" and take.get("id")
    ]
    done.sort(key=lambda take: float(take.get("finished_at") or 0), reverse=True)
    return done[:RECENT_TAKES]
