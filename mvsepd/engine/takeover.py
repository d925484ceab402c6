"""Studio mode: taking over the jobs of hosts that stopped answering.

Every half lease the engine asks the store for the unfinished jobs of hosts whose lease and
heartbeat ran out (``JobStore.take_over``: only jobs this host can finish). A job the silent
host was uploading is looked up in MVSEP's history first (``reconcile``) and sent again only
after ``store.takeover_upload_grace_seconds``: its upload may still land. Polling and
downloading simply go on here (a download in a fresh staging folder of the new lease). A
finished job is taken for the deliveries that wait for it on a share (the same take dropped
again while its host is switched off), which this host then places.
"""

from __future__ import annotations

import structlog

from mvsepd.engine.context import Context
from mvsepd.models import JobState

log = structlog.get_logger("mvsepd.engine")


class Takeover:
    """When to look for a silent host's jobs next, and what to do with those taken."""

    def __init__(self, context: Context) -> None:
        self._context = context
        #: The next look (the daemon's clock); the engine sleeps no longer than until then.
        self.due = 0.0

    def tick(self) -> None:
        """Take over what is due (nothing on one machine)."""
        context = self._context
        store = context.store
        if store.host_id is None:
            return
        now = context.clock()
        if now < self.due:
            return
        self.due = now + store.lease_seconds / 2
        grace = context.config.store.takeover_upload_grace_seconds
        for job, former in store.take_over():
            log.warning(
                "job_taken_over",
                job=job.id,
                state=job.state.value,
                former_host=former,
                note="its host stopped answering; this host places its late deliveries"
                if job.state is JobState.DONE
                else "its host stopped answering; this host finishes it",
            )
            if job.state is JobState.UPLOADING:
                # Reconcile counts absence only once its grace after this moment has passed.
                context.sends_ended[job.id] = (
                    now + grace - context.settings.lost_upload_grace_seconds
                )
            context.feed.bump()
