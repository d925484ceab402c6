"""The tray's view model: a status picture in, what the tray shows out (pure, no pystray).

``build_view`` turns the status API's picture (or None when no daemon answers) into the icon's
state, a one-line tooltip and the menu as plain entries; ``Notifications`` remembers which
jobs it has seen finish so that each "stems ready" or "failed" is announced once, across
reconnects, and never for jobs that were already finished when the tray started.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvsepd.statusapi.words import ordinal
from mvsepd.tray.badge import Glyph, IconState, Tone

#: Windows cuts tooltips at 127 characters; every backend gets the same text.
TOOLTIP_LIMIT = 127
#: Finished jobs listed under "Recent".
RECENT_ITEMS = 5
_ACTIVE_PHASES = (
    "checking",
    "queued",
    "uploading",
    "waiting",
    "processing",
    "publishing",
    "downloading",
)


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
    failed_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Notice:
    """A desktop notification."""

    title: str
    message: str


def _jobs(picture: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [job for job in picture.get("jobs", []) if isinstance(job, Mapping)]


def next_waiting(jobs: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The job waiting at MVSEP with the smallest known queue position, if any."""
    waiting = [
        job for job in jobs if job.get("phase") == "waiting" and (job.get("current_order") or 0) > 0
    ]
    return min(waiting, key=lambda job: int(job["current_order"])) if waiting else None


def icon_state(
    picture: Mapping[str, Any] | None, dismissed: frozenset[int] = frozenset()
) -> IconState:
    """What the icon shows for a picture (None: the daemon cannot be reached)."""
    if picture is None:
        return IconState("offline", "offline")
    jobs = _jobs(picture)
    phases = {str(job.get("phase")) for job in jobs}
    failed = [
        job for job in jobs if job.get("phase") == "failed" and job.get("id") not in dismissed
    ]
    alert = (
        bool(failed)
        or not picture.get("account", {}).get("token_valid", True)
        or bool((picture.get("studio") or {}).get("outage"))
    )
    paused = bool(picture.get("daemon", {}).get("paused"))
    upcoming = next_waiting(jobs)
    glyph: Glyph
    tone: Tone
    if upcoming is not None:
        glyph, tone = "number", "waiting"
    elif "downloading" in phases:
        glyph, tone = "downloading", "downloading"
    elif phases & {"uploading", "processing", "publishing", "waiting", "checking"}:
        glyph, tone = "processing", "processing"
    elif "queued" in phases:
        glyph, tone = ("paused", "paused") if paused else ("idle", "waiting")
    elif alert:
        glyph, tone = "error", "error"
    elif paused:
        glyph, tone = "paused", "paused"
    else:
        glyph, tone = "idle", "idle"
    if alert:
        tone = "error"
    elif paused:
        tone = "paused"
    number = int(upcoming["current_order"]) if upcoming is not None else None
    return IconState(glyph, tone, number)


def tooltip(
    picture: Mapping[str, Any] | None, problem: str = "", dismissed: frozenset[int] = frozenset()
) -> str:
    """One line: "2 waiting (next: 3rd of 12) · 1 processing · 4 done today"."""
    if picture is None:
        words = problem or "mvsepd is not running"
        return _clip(words if words.startswith("mvsepd") else f"mvsepd: {words}")
    jobs = _jobs(picture)
    phases = [str(job.get("phase")) for job in jobs]
    parts: list[str] = []
    waiting = phases.count("waiting") + phases.count("queued")
    if waiting:
        upcoming = next_waiting(jobs)
        detail = ""
        if upcoming is not None:
            count = upcoming.get("queue_count")
            of_count = f" of {count}" if count else ""
            detail = f" (next: {ordinal(int(upcoming['current_order']))}{of_count})"
        parts.append(f"{waiting} waiting{detail}")
    busy = sum(phases.count(name) for name in ("checking", "uploading", "processing"))
    if busy:
        parts.append(f"{busy} processing")
    if phases.count("downloading"):
        parts.append(f"{phases.count('downloading')} downloading")
    parts.append(f"{int(picture.get('done_today', 0))} done today")
    failed = sum(
        1 for job in jobs if job.get("phase") == "failed" and job.get("id") not in dismissed
    )
    if failed:
        parts.append(f"{failed} failed")
    if not picture.get("account", {}).get("token_valid", True):
        parts.append("API token refused")
    studio = picture.get("studio") or {}
    if studio.get("outage"):
        parts.append("studio database unreachable")
    if picture.get("daemon", {}).get("paused"):
        parts.append("paused (whole studio)" if studio else "paused")
    return _clip(" · ".join(parts))


def _clip(text: str) -> str:
    return text if len(text) <= TOOLTIP_LIMIT else text[: TOOLTIP_LIMIT - 1] + "…"


def _recent(jobs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    finished = [job for job in jobs if job.get("phase") in ("done", "failed", "cancelled")]
    finished.sort(key=lambda job: (job.get("finished_at") or 0, job.get("id") or 0), reverse=True)
    return finished[:RECENT_ITEMS]


def _result_entry(job: Mapping[str, Any], *, default: bool) -> MenuEntry:
    name = str(job.get("file", "?"))
    if job.get("phase") == "done" and job.get("output_dir"):
        return MenuEntry(f"{name}: stems ready", "open", str(job["output_dir"]), default=default)
    words = "failed" if job.get("phase") == "failed" else "cancelled"
    return MenuEntry(f"{name}: {words}", "open", str(job.get("folder", "")))


def menu(
    picture: Mapping[str, Any] | None,
    *,
    problem: str = "",
    owns_daemon: bool = False,
    dismissed: frozenset[int] = frozenset(),
) -> tuple[MenuEntry, ...]:
    """The menu, top to bottom: jobs, recent results, controls, files, quit."""
    entries: list[MenuEntry] = []
    if picture is None:
        entries.append(MenuEntry(problem or "mvsepd is not running", enabled=False))
    else:
        jobs = _jobs(picture)
        active = [job for job in jobs if job.get("phase") in _ACTIVE_PHASES]
        for job in active[:15]:
            entries.append(
                MenuEntry(
                    f"{job.get('file', '?')}: {job.get('summary', job.get('state'))}", enabled=False
                )
            )
        if len(active) > 15:
            entries.append(
                MenuEntry(f"... and {len(active) - 15} more (mvsepd jobs)", enabled=False)
            )
        if not active:
            entries.append(MenuEntry("No jobs waiting", enabled=False))
        recent = _recent(jobs)
        if recent:
            entries.append(SEPARATOR)
            entries.append(MenuEntry("Recent results", enabled=False))
            entries.extend(
                _result_entry(job, default=index == 0) for index, job in enumerate(recent)
            )
        entries.append(SEPARATOR)
        if picture.get("daemon", {}).get("paused"):
            entries.append(MenuEntry("Resume", "resume"))
        else:
            entries.append(MenuEntry("Pause", "pause"))
        failed = [job for job in jobs if job.get("phase") == "failed"]
        if failed:
            entries.append(MenuEntry(f"Retry failed ({len(failed)})", "retry_failed"))
        if [job for job in failed if job.get("id") not in dismissed]:
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
    dismissed: frozenset[int] = frozenset(),
) -> TrayView:
    """Everything the tray shows for a picture (None: the daemon cannot be reached)."""
    failed_ids: tuple[int, ...] = ()
    paused = False
    if picture is not None:
        failed_ids = tuple(int(job["id"]) for job in _jobs(picture) if job.get("phase") == "failed")
        paused = bool(picture.get("daemon", {}).get("paused"))
    return TrayView(
        icon=icon_state(picture, dismissed),
        tooltip=tooltip(picture, problem, dismissed),
        menu=menu(picture, problem=problem, owns_daemon=owns_daemon, dismissed=dismissed),
        reachable=picture is not None,
        paused=paused,
        failed_ids=failed_ids,
    )


@dataclass
class Notifications:
    """Says once when a job's stems are ready or it failed, and when the token is refused."""

    _finished: set[int] = field(default_factory=set)
    _seeded: bool = False
    _token_valid: bool = True
    _studio_reachable: bool = True

    def update(self, picture: Mapping[str, Any]) -> list[Notice]:
        """Return the notices this picture calls for (none for the first one)."""
        notices: list[Notice] = []
        for job in _jobs(picture):
            job_id = job.get("id")
            if not isinstance(job_id, int) or job.get("phase") not in ("done", "failed"):
                continue
            if job_id in self._finished:
                continue
            self._finished.add(job_id)
            if not self._seeded:
                continue
            name = str(job.get("file", "a track"))
            if job.get("phase") == "done":
                where = job.get("output_dir")
                folder = f" in {Path(str(where)).name}" if where else ""
                notices.append(Notice("Stems ready", f"{name}: stems ready{folder}"))
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
