"""What the status API asks of the engine: pause, resume, retry (``retrying``), cancel, rescan
(of one folder or all, and of the files that were in a folder before it was first watched),
dismiss.

A mixin of ``Engine``: every request changes jobs only through ``JobStore.transition`` and
wakes the scheduler, so its effect is seen at once. ``cancel`` waits a few seconds for a step
in flight (a poll); a job a worker holds for longer (an upload) is cancelled when that ends.
``dismiss_failures`` records in the store (a flag, so it outlives restarts and is the same for
every client) that the failures so far have been seen: the tray is red only for later ones.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import structlog

from mvsepd import errors
from mvsepd.engine import polling, retrying
from mvsepd.engine.context import Context
from mvsepd.engine.firstwatch import FirstWatch, SkippedFiles
from mvsepd.engine.workers import Workers
from mvsepd.errors import IllegalTransitionError, StoreError
from mvsepd.intake import Intake
from mvsepd.models import JobRecord, JobState

log = structlog.get_logger("mvsepd.engine")

#: Seconds a cancel waits for a step in flight (a poll takes milliseconds) so that its answer
#: is what happened; a longer step (an upload) gets the cancel when it ends.
CANCEL_WAIT_SECONDS = 5.0
#: States of a job with a separation hash that MVSEP is told of when it is cancelled.
_AT_MVSEP = frozenset(
    {JobState.SUBMITTED, JobState.PUBLISHING, JobState.DOWNLOADING, JobState.RETRY_WAIT}
)
#: The store flag holding the newest dismissed failure's ``finished_at``: a failure that ended
#: at or before it has been seen. A mark, not a list of jobs: a job retried and failing again
#: ends later, so it counts as new without anyone clearing anything.
DISMISSED_FLAG = "failures_dismissed_through"


class EngineControl:
    """The control requests of ``Engine`` (which provides the parts named here)."""

    context: Context
    intake: Intake
    first_watch: FirstWatch
    _workers: Workers
    _wake: threading.Event

    def wake(self) -> None:
        """Make the next tick happen now (after a control request)."""
        self._wake.set()

    def _transition(self, job: JobRecord, state: JobState, **changes: Any) -> bool:
        """Move the job unless it changed meanwhile; True if it moved."""
        try:
            self.context.store.transition(job.id, state, expected=job.state, **changes)
        except (IllegalTransitionError, StoreError) as error:
            log.debug("transition_skipped", job=job.id, error=str(error))
            return False
        self.context.feed.bump()
        return True

    def pause(self) -> None:
        """Stop submitting new jobs (uploads in flight, polls and downloads go on)."""
        self.context.store.set_flag("paused", "1")
        self.context.feed.bump()
        log.info("paused")

    def resume(self) -> None:
        """Submit jobs again."""
        self.context.store.set_flag("paused", None)
        self.context.feed.bump()
        self.wake()
        log.info("resumed")

    @property
    def paused(self) -> bool:
        """True while submission is paused."""
        return self.context.store.flag("paused") is not None

    def retry(self, job_id: int, *, upload_again: bool = False) -> retrying.RetryAnswer:
        """Start a failed, cancelled, done, unpublished or held job again: followed at MVSEP
        while MVSEP has it (no upload, no credits), else uploaded again (see ``retrying``)."""
        answer = retrying.retry(self.context, job_id, upload_again=upload_again)
        self.wake()
        return answer

    def cancel(self, job_id: int) -> str:
        """Cancel a job; return what happened, in words.

        A job waiting at MVSEP is cancelled there (its credits are refunded); one MVSEP already
        works on cannot be, so mvsepd stops tracking it and says so.
        """
        job = self.context.store.get(job_id)
        if job.state.terminal:
            raise errors.InputError(f"job {job_id} is already {job.state.value}", field="job")
        if job.owner_host != self.context.store.host_id:
            return self._cancel_for(job.owner_host, job)
        if not self._workers.claim(job_id, wait_seconds=CANCEL_WAIT_SECONDS):
            # A worker still has it (an upload, a slow answer): it is cancelled as soon as
            # that step ends.
            self.context.cancel_requested.add(job_id)
            self.wake()
            return "cancelling: mvsepd is talking to MVSEP about it; it stops right after"
        try:
            job = self.context.store.get(job_id)
            if job.separation_hash and job.state in _AT_MVSEP:
                return self._cancel_now(job)
            if job.state is JobState.UPLOADING:
                # An upload that was interrupted: it may exist at MVSEP; reconcile first.
                self.context.cancel_requested.add(job_id)
                return "cancelling: checking whether MVSEP received the upload first"
            if not self._transition(job, JobState.CANCELLED, reason="cancelled by the user"):
                now = self.context.store.get(job_id)
                return f"could not cancel: it changed meanwhile (it is {now.state.value} now)"
            self.context.store.fail_deliveries_of(job_id, "cancelled by the user")
            return "cancelled before it reached MVSEP"
        finally:
            self._workers.release(job_id)
            self.wake()

    def _cancel_for(self, owner: str | None, job: JobRecord) -> str:
        """Studio mode: cancel a job another host holds. This host takes it first (so that
        host's next write about it is refused), then tells MVSEP; an upload in flight is left
        to its host, which alone knows whether MVSEP got it."""
        if job.state is JobState.UPLOADING:
            raise errors.InputError(
                f"job {job.id} is being uploaded by {owner}; cancel it once it shows "
                "submitted, or on that host",
                field="job",
            )
        here = self.context.store.host_id
        try:
            self.context.store.transition(
                job.id,
                JobState.CANCELLED,
                expected=job.state,
                adopt=True,
                reason=f"cancelled by the user on {here}",
            )
        except IllegalTransitionError:
            now = self.context.store.get(job.id).state.value
            raise errors.InputError(
                f"job {job.id} changed on {owner} meanwhile (it is {now} now); ask again",
                field="job",
            ) from None
        words = "cancelled before it reached MVSEP"
        if job.separation_hash and job.state in _AT_MVSEP:
            words = polling.cancel_remote(self.context, job)
            self.context.store.update_progress(job.id, reason=words)
        self._cancelled(job.id, words, owner=owner)
        return f"{words} (it was {owner}'s job; {here} took it to cancel it)"

    def _cancel_now(self, job: JobRecord) -> str:
        words = polling.cancel_remote(self.context, job)
        self.context.cancel_requested.discard(job.id)
        try:
            self.context.store.transition(job.id, JobState.CANCELLED, reason=words)
        except (IllegalTransitionError, StoreError) as error:
            return f"could not cancel: {error}"
        self._cancelled(job.id, words)
        return words

    def _cancelled(self, job_id: int, words: str, **fields: Any) -> None:
        """After a job moved to cancelled: its deliveries fail with ``words``; say so."""
        self.context.store.fail_deliveries_of(job_id, words)
        self.context.feed.bump()
        log.info("job_cancelled", job=job_id, detail=words, **fields)

    @property
    def failures_dismissed_through(self) -> float:
        """The end time of the newest dismissed failure (0 when none was ever dismissed)."""
        value = self.context.store.flag(DISMISSED_FLAG)
        try:
            return float(value) if value is not None else 0.0
        except ValueError:
            log.warning("dismissed_flag_unreadable", value=value)
            return 0.0

    def dismiss_failures(self) -> int:
        """Mark every failure so far as seen; return how many were not seen before.

        Studio mode: the flag is the studio's, like pause (every host's failures are shown to
        every host's tray).
        """
        through = self.failures_dismissed_through
        ended = [
            failed_at
            for failed_at in (
                job.finished_at or job.updated_at
                for job in self.context.store.jobs([JobState.FAILED])
            )
            if failed_at > through
        ]
        if ended:
            self.context.store.set_flag(DISMISSED_FLAG, repr(max(ended)))
            self.context.feed.bump()
        log.info("failures_dismissed", count=len(ended))
        return len(ended)

    def rescan(self, folder: Path | None = None) -> int:
        """Scan ``folder`` (a hot folder, InputError otherwise), or every folder, now; return
        how many new files are being checked."""
        found = self.intake.rescan(None if folder is None else self.intake.watched_folder(folder))
        self.context.feed.bump()
        self.wake()
        return found

    def include_existing(self, folder: Path) -> tuple[Path, int, int]:
        """Take the files that were in ``folder`` before it was first watched (InputError when
        it is no hot folder): return the hot folder, how many were skipped, and how many new
        files are being checked now."""
        watched = self.intake.watched_folder(folder)
        released, found = self.first_watch.take(watched)
        self.context.feed.bump()
        self.wake()
        return watched, released, found

    def skipped_files(self, folder: Path, *, limit: int | None) -> SkippedFiles:
        """The files of a hot folder skipped as there before its first watch."""
        return self.first_watch.skipped(folder, limit=limit)
