"""Following a submitted job at MVSEP: its queue position and progress, a link MVSEP is still
fetching (get-remote until it names the real job), a finished job until its stems are
published (``publishing``), results that disappear, cancelling."""

from __future__ import annotations

from pathlib import Path

import structlog

from mvsepd import errors
from mvsepd.api.wire import hash_created_at
from mvsepd.domain import lifecycle
from mvsepd.engine import publishing
from mvsepd.engine.context import RESULT_LIFETIME_SECONDS, Context
from mvsepd.models import FailureKind, JobRecord, RemoteStatus

log = structlog.get_logger("mvsepd.engine")


def poll(context: Context, job: JobRecord) -> JobRecord:
    """Ask MVSEP how a submitted job stands; record its queue position or move it on."""
    if job.separation_hash is None:
        return _poll_remote(context, job)
    now = context.clock()
    try:
        status = context.client.get_separation(job.separation_hash, server=job.server)
    except errors.MvsepError as error:
        if isinstance(error, errors.NotFoundError):
            return _not_found(context, job, now)
        verdict = lifecycle.judge_error(error)
        delay = lifecycle.retry_delay(
            min(job.polls + 1, 8), retry_after=getattr(error, "retry_after", None), rng=context.rng
        )
        log.info(
            "poll_failed",
            job=job.id,
            file=Path(job.source_path).name,
            reason=verdict.reason,
            retry_in=round(delay),
        )
        return context.store.update_progress(
            job.id,
            polls=job.polls + 1,
            next_attempt_at=now + delay,
            reason=f"checking MVSEP failed ({verdict.reason}); trying again",
        )
    if status.status is RemoteStatus.DONE:
        context.not_found_counts.pop(job.id, None)
        return publishing.on_done(context, job, status)
    if status.status is RemoteStatus.FAILED:
        message = status.message or "no reason given"
        return context.fail(
            job, f"MVSEP could not process the file: {message}", kind=FailureKind.SERVICE
        )
    if status.status is RemoteStatus.NOT_FOUND:
        return _not_found(context, job, now)
    context.not_found_counts.pop(job.id, None)
    delay = lifecycle.poll_delay(
        job.polls,
        status.status,
        queue_position=status.current_order,
        rng=context.rng,
        first=context.settings.poll_first_seconds,
        maximum=context.settings.poll_max_seconds,
    )
    updated = context.store.update_progress(
        job.id,
        remote_status=status.raw_status,
        queue_count=status.queue_count,
        current_order=status.current_order,
        finished_chunks=status.finished_chunks,
        all_chunks=status.all_chunks,
        polls=job.polls + 1,
        next_attempt_at=now + delay,
        reason=None,
    )
    if (updated.remote_status, updated.current_order, updated.finished_chunks) != (
        job.remote_status,
        job.current_order,
        job.finished_chunks,
    ):
        context.feed.bump()
    return updated


def _poll_remote(context: Context, job: JobRecord) -> JobRecord:
    """A link MVSEP is fetching: ask get-remote until it names the real job."""
    assert job.remote_hash is not None
    now = context.clock()
    try:
        status = context.client.get_remote(job.remote_hash, server=job.server)
    except errors.MvsepError as error:
        verdict = lifecycle.judge_error(error)
        if isinstance(error, errors.NotFoundError):
            return _not_found(context, job, now)
        delay = lifecycle.retry_delay(min(job.polls + 1, 8), rng=context.rng)
        return context.store.update_progress(
            job.id,
            polls=job.polls + 1,
            next_attempt_at=now + delay,
            reason=f"checking MVSEP failed ({verdict.reason}); trying again",
        )
    if status.status is RemoteStatus.FAILED:
        return context.fail(
            job,
            f"MVSEP could not fetch the link: {status.message or 'no reason given'}",
            kind=FailureKind.FILE,
        )
    if status.separation_hash:
        found = context.store.set_separation_hash(job.id, status.separation_hash)
        context.store.update_progress(job.id, next_attempt_at=now, reason=None)
        context.feed.bump()
        log.info("link_fetched", job=job.id, note="MVSEP has the audio; following its job")
        return found
    if status.status is RemoteStatus.NOT_FOUND:
        return _not_found(context, job, now)
    delay = lifecycle.poll_delay(
        job.polls,
        status.status,
        queue_position=status.current_order,
        rng=context.rng,
        first=context.settings.poll_first_seconds,
        maximum=context.settings.poll_max_seconds,
    )
    return context.store.update_progress(
        job.id,
        remote_status="fetching" if status.status is RemoteStatus.UNKNOWN else status.raw_status,
        queue_count=status.queue_count,
        current_order=status.current_order,
        polls=job.polls + 1,
        next_attempt_at=now + delay,
        reason=None,
    )


def _not_found(context: Context, job: JobRecord, now: float) -> JobRecord:
    created = hash_created_at(job.separation_hash or "") or job.upload_started_at or now
    if now - created >= RESULT_LIFETIME_SECONDS:
        return context.fail(
            job,
            "MVSEP deleted the results (they are kept about 72 hours); "
            "`mvsepd retry` submits the file again",
            kind=FailureKind.SERVICE,
        )
    count = context.not_found_counts.get(job.id, 0) + 1
    context.not_found_counts[job.id] = count
    if count >= context.settings.not_found_tolerance:
        context.not_found_counts.pop(job.id, None)
        return context.fail(
            job, "MVSEP no longer knows this job (not found)", kind=FailureKind.SERVICE
        )
    delay = lifecycle.retry_delay(count, rng=context.rng)
    return context.store.update_progress(
        job.id,
        polls=job.polls + 1,
        next_attempt_at=now + delay,
        reason="MVSEP does not find the job yet; asking again",
    )


def cancel_remote(context: Context, job: JobRecord) -> str:
    """Cancel a submitted job at MVSEP if it has not started; return what happened, in words."""
    if not job.separation_hash:
        return "cancelled before it reached MVSEP"
    try:
        status = context.client.get_separation(job.separation_hash, server=job.server)
        if status.status.cancellable:
            context.client.cancel_separation(job.separation_hash, server=job.server)
            return "cancelled at MVSEP before it started; its credits are refunded"
        if status.status.finished:
            return f"MVSEP had already finished it ({status.raw_status}); mvsepd stops tracking it"
    except errors.MvsepError as error:
        return f"could not cancel at MVSEP ({error.detail}); mvsepd stops tracking it"
    return (
        "MVSEP had already started it, so it cannot be cancelled there (no refund); "
        "mvsepd stops tracking it"
    )
