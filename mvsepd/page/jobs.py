"""The Jobs page: every recent job, live, in the words ``mvsepd status`` uses (where it
stands, its place in MVSEP's queue, upload and download percent, chunks, publishing), with
its credits, its take's page, cancel, retry with what it costs, and why a failed one failed
and what to do; filtered by folder, by state and to today's.

The filters are the page's query (``?folder=...&state=failed&today=1``), so a filtered list
is a link; its live part comes through ``/live?view=jobs`` with the same query.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from mvsepd.page.host import PageHost
from mvsepd.page.visit import Visit
from mvsepd.paths import absolute
from mvsepd.statusapi.picture import local_midnight
from mvsepd.statusapi.words import WORKING_PHASES

#: The state filter's choices: what a user asks for, and the phases it covers.
STATES: dict[str, tuple[str, ...]] = {
    "working": WORKING_PHASES,
    "done": ("done",),
    "failed": ("failed", "unpublished"),
    "cancelled": ("cancelled",),
}


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to (empty: everything recent)."""

    folder: str = ""
    state: str = ""
    today: bool = False

    @classmethod
    def of(cls, arguments: MultiDict[str, str]) -> Filters:
        state = arguments.get("state", "")
        return cls(
            folder=arguments.get("folder", ""),
            state=state if state in STATES else "",
            today=arguments.get("today") in ("1", "on", "yes"),
        )

    def query(self) -> str:
        """The filters as a query string (without ``?``), for links and the live request."""
        from urllib.parse import urlencode

        pairs = [("folder", self.folder), ("state", self.state)]
        pairs += [("today", "1")] if self.today else []
        return urlencode([(key, value) for key, value in pairs if value])

    def keeps(self, job: dict[str, Any], midnight: float) -> bool:
        if self.folder and job.get("folder") != self.folder:
            return False
        if self.state and job.get("phase") not in STATES[self.state]:
            return False
        if self.today:
            when = job.get("finished_at") or job.get("updated_at") or job.get("created_at") or 0
            return float(when) >= midnight
        return True


def live_values(host: PageHost, filters: Filters) -> dict[str, Any]:
    """What the live part of the Jobs page shows (also what ``/live?view=jobs`` sends)."""
    picture = host.status_api.picture.status()
    midnight = local_midnight(time.time())
    folders = [str(absolute(folder.path)) for folder in host.config().folders]
    jobs = [job for job in picture.get("jobs", []) if filters.keeps(job, midnight)]
    jobs.sort(key=lambda job: (job.get("phase") in ("done", "cancelled"), -int(job["id"])))
    return {
        "picture": picture,
        "jobs": [_row(job) for job in jobs],
        "filters": filters,
        "folders": folders,
        "states": list(STATES),
        "back": "/jobs" + (f"?{filters.query()}" if filters.query() else ""),
    }


def page(visit: Visit) -> Response:
    filters = Filters.of(visit.request.args)
    return visit.render("jobs.html", live_query=filters.query(), **live_values(visit.host, filters))


def _row(job: dict[str, Any]) -> dict[str, Any]:
    """One job with what its row shows beyond the status picture."""
    phase = str(job.get("phase"))
    return {
        **job,
        "working": phase in STATES["working"],
        "failed": phase in STATES["failed"] and not job.get("dismissed"),
        "percent": job.get("upload_percent")
        if job.get("upload_percent") is not None
        else job.get("download_percent"),
    }
