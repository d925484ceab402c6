"""A job MVSEP says is done, until every one of its stems is published (or the wait ends).

MVSEP flips a job to ``done`` before its stem files are exported to its storage: the answer
lists no files, or records whose address is empty and filled in one by one (usually within a
second; under free-tier load for minutes, and such jobs do finish: madisonrickert/ablevsep,
``src/separate-core.ts``). A job is finished when MVSEP says ``done``, no record lacks an
address, and the list is whole: as many stems as the algorithm makes with the job's options
(where the catalog says), else the same count at two looks in a row. Until then the job waits
in ``publishing``, looked at a few seconds apart at first, backing off to the longest poll
interval; a set that grows between looks is never placed in part. After
``publish_wait_seconds`` the job goes to ``unpublished``: not a failure (it was paid, MVSEP keeps
it); ``mvsepd retry`` follows it at MVSEP again, without an upload.
"""

from __future__ import annotations

import structlog

from mvsepd.domain import lifecycle
from mvsepd.domain.presets import PresetProblem, find_algorithm
from mvsepd.engine.context import Context
from mvsepd.models import JobRecord, JobState, SeparationStatus

log = structlog.get_logger("mvsepd.engine")


def on_done(context: Context, job: JobRecord, status: SeparationStatus) -> JobRecord:
    """Given a ``done`` answer for a submitted or publishing job: download it when every stem
    is published, else wait (``publishing``), or give up the wait (``unpublished``)."""
    if is_complete(context, job, status):
        context.published_counts.pop(job.id, None)
        with context.lock:
            context.finished_status[job.id] = status
        now = context.clock()
        done = context.store.transition(
            job.id,
            JobState.DOWNLOADING,
            expected=(JobState.SUBMITTED, JobState.PUBLISHING),
            remote_status=status.raw_status,
            queue_count=None,
            current_order=None,
            progress_done=None,
            progress_total=None,
            reason=None,
            timings_json=job.with_timings(
                done_seen=job.timings.get("done_seen", now), published=now
            ),
        )
        context.feed.bump()
        log.info("job_finished_at_mvsep", job=job.id, file=job.source_name, files=len(status.files))
        return done
    return _wait(context, job, status)


def is_complete(context: Context, job: JobRecord, status: SeparationStatus) -> bool:
    """True when every stem of a ``done`` answer is published and the list is whole (see the
    module docstring). Remembers the count it saw, for the next look."""
    seen_before = context.published_counts.pop(job.id, None)
    complete = lifecycle.publication_complete(
        status, expected=expected_count(context, job), seen_before=seen_before
    )
    if not complete and status.published:
        context.published_counts[job.id] = len(status.files)
    return complete


def expected_count(context: Context, job: JobRecord) -> int | None:
    """How many results the job's algorithm makes with its options, per MVSEP's catalog (None
    when the catalog is not at hand or does not say)."""
    algorithms = context.catalog.algorithms
    if not algorithms or job.sep_type is None:
        return None
    try:
        algorithm = find_algorithm(algorithms, job.sep_type)
    except PresetProblem:
        return None
    outputs = algorithm.outputs_for(job.options)
    return len(outputs) or None


def _wait(context: Context, job: JobRecord, status: SeparationStatus) -> JobRecord:
    now = context.clock()
    published = len(status.files)
    listed = published + len(status.unpublished)
    settings = context.settings
    if job.state is not JobState.PUBLISHING:
        waiting = context.store.transition(
            job.id,
            JobState.PUBLISHING,
            expected=job.state,
            remote_status=status.raw_status,
            queue_count=None,
            current_order=None,
            publish_started_at=now,
            polls=0,
            progress_done=published,
            progress_total=listed,
            next_attempt_at=context.poll_budget.reserve(now + _delay(context, 0)),
            reason=None,
            timings_json=job.with_timings(done_seen=now),
        )
        context.feed.bump()
        log.info(
            "stems_publishing",
            job=job.id,
            file=job.source_name,
            published=published,
            listed=listed,
            note="MVSEP says done but has not published every stem yet; waiting for them",
        )
        return waiting
    started = job.publish_started_at if job.publish_started_at is not None else now
    if now - started >= settings.publish_wait_seconds:
        context.published_counts.pop(job.id, None)
        minutes = settings.publish_wait_seconds / 60
        reason = (
            f"MVSEP finished the job but published {published} of its stems "
            f"({listed} listed) in {minutes:g} min; nothing is lost (it is done, and MVSEP "
            "keeps it about 72 "
            f"hours): `mvsepd retry {job.id}` asks MVSEP again (no upload, no credits)"
        )
        left = context.store.transition(
            job.id, JobState.UNPUBLISHED, expected=JobState.PUBLISHING, reason=reason
        )
        context.feed.bump()
        log.warning("stems_unpublished", job=job.id, file=job.source_name, reason=reason)
        return left
    updated = context.store.update_progress(
        job.id,
        polls=job.polls + 1,
        progress_done=published,
        progress_total=listed,
        next_attempt_at=context.poll_budget.reserve(now + _delay(context, job.polls + 1)),
    )
    if (updated.progress_done, updated.progress_total) != (job.progress_done, job.progress_total):
        context.feed.bump()
    return updated


def _delay(context: Context, polls: int) -> float:
    return lifecycle.publish_poll_delay(
        polls,
        rng=context.rng,
        first=context.settings.poll_first_seconds,
        maximum=context.settings.poll_max_seconds,
    )
