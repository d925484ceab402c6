"""Finding a create whose answer was lost, in the account's separation history.

Nothing is paid twice: an upload whose answer was lost (or garbled, or a 5xx that may have come
after the job was made) is looked up in the history before anything is sent again, by the name
MVSEP saw (its hash carries a slug of it), the algorithm and the time, and absence counts only
after a grace period in which a request still in flight could land.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import structlog

from mvsepd import errors
from mvsepd.api.wire import filename_slug, hash_created_at, hash_matches_filename
from mvsepd.domain import lifecycle
from mvsepd.domain.lifecycle import Outcome
from mvsepd.engine.context import Context
from mvsepd.models import HistoryEntry, JobRecord, JobState, RemoteStatus

log = structlog.get_logger("mvsepd.engine")


def reconcile(context: Context, job: JobRecord) -> JobRecord:
    """Find an upload whose answer was lost in the account's history; else make it stable again.

    Never uploads: a job found here is submitted with the hash MVSEP gave it; a job not found
    goes back to ``stable`` and the scheduler uploads it in its turn.
    """
    now = context.clock()
    try:
        entries = _history(context)
    except errors.MvsepError as error:
        verdict = context.judge(error, job.id, job.source_name)
        if verdict.outcome is Outcome.HOLD_TOKEN:
            context.account.update(token_problem=str(error), now=now)
        delay = lifecycle.retry_delay(max(1, job.polls + 1), rng=context.rng)
        context.store.update_progress(
            job.id,
            polls=job.polls + 1,
            next_attempt_at=now + delay,
            reason=f"cannot check the upload in MVSEP's history yet: {verdict.reason}",
        )
        return context.store.get(job.id)
    started = job.upload_started_at or job.updated_at
    match = _find_upload(context, job, entries, started)
    if match is not None:
        found = context.store.transition(
            job.id,
            JobState.SUBMITTED,
            expected=JobState.UPLOADING,
            separation_hash=match.hash,
            server=job.server,
            remote_status=RemoteStatus.WAITING.value,
            polls=0,
            next_attempt_at=now,
            reason=None,
        )
        context.feed.bump()
        context.sends_ended.pop(job.id, None)
        log.info("lost_upload_found", job=job.id, note="MVSEP had the job; not uploading again")
        return found
    # The request may still be in MVSEP's hands (the process that sent it died, or its answer
    # was lost a moment ago): absence counts only once nothing can be in flight any more, that
    # is a grace period after the send ended. A send of an earlier process ended before this
    # one started; one of this process ended when the upload step gave up on it (or, if that
    # went unrecorded, no later than the first look). Not the row's ``updated_at``: each "not
    # yet" below rewrites it, so the grace would never run out and the file never be resent.
    sent_here = (job.upload_started_at or 0.0) >= context.started_at
    last_send = context.sends_ended.setdefault(job.id, now if sent_here else context.started_at)
    unsettled = context.settings.lost_upload_grace_seconds - (now - last_send)
    if unsettled > 0:
        context.store.update_progress(
            job.id,
            next_attempt_at=now + min(unsettled, max(1.0, unsettled / 3)),
            reason="checking whether MVSEP received the upload",
        )
        return context.store.get(job.id)
    # Not there: the upload failed before MVSEP made a job. Send it again, after a pause that
    # grows with each failed attempt, so a server that keeps failing is not hammered.
    context.sends_ended.pop(job.id, None)
    log.info("lost_upload_absent", job=job.id, note="MVSEP has no such job; uploading again")
    return context.retry_later(
        job, resume=JobState.STABLE, words="the upload did not reach MVSEP", event="upload_retry"
    )


def _history(context: Context) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []
    page_size = 20
    for page in range(context.settings.reconcile_pages):
        batch = context.client.separation_history(start=page * page_size, limit=page_size)
        entries.extend(batch)
        if len(batch) < page_size:
            break
    return entries


def _find_upload(
    context: Context, job: JobRecord, entries: Sequence[HistoryEntry], started: float
) -> HistoryEntry | None:
    """Return the history entry of a lost upload: same file name (as MVSEP slugs it), same
    algorithm, created around the upload's start, and not already another job's.

    When the name has no Latin letters MVSEP's slug of it is unknown; then a single entry of the
    right algorithm in the time window is taken, and several are not guessed between.
    """
    window = context.settings.reconcile_window_seconds
    taken = {
        other.separation_hash
        for other in context.store.jobs(
            [JobState.SUBMITTED, JobState.DOWNLOADING, JobState.DONE, JobState.RETRY_WAIT]
        )
        if other.separation_hash
    }
    name = upload_name(job)
    named: list[tuple[float, HistoryEntry]] = []
    unnamed: list[tuple[float, HistoryEntry]] = []
    for entry in entries:
        if entry.hash in taken:
            continue
        if (
            entry.render_id is not None
            and job.sep_type is not None
            and entry.render_id != job.sep_type
        ):
            continue
        created = hash_created_at(entry.hash) or _parse_time(entry.created_at)
        if created is None or not started - window <= created <= context.clock() + window:
            continue
        pair = (abs(created - started), entry)
        (named if hash_matches_filename(entry.hash, name) else unnamed).append(pair)
    if named:
        return min(named, key=lambda pair: pair[0])[1]
    slug_stem = filename_slug(name).rsplit(".", 1)[0]
    if not slug_stem and len(unnamed) == 1:
        return unnamed[0][1]
    return None


def upload_name(job: JobRecord) -> str:
    """The file name MVSEP saw for a job (its hash carries a slug of it): the name it was sent
    under (``Take.flac`` for a WAV sent as FLAC), else the file's or the target's, the link's
    last path part, or the prompt's first words."""
    if job.input_kind == "url":
        path = urlsplit(str(job.input.get("url", ""))).path
        return PurePosixPath(unquote(path)).name or "remote-audio"
    if job.input_kind == "prompt":
        return str(job.input.get("prompt", ""))[:60] + ".wav"
    sent = job.upload.get("name")
    return str(sent) if sent else Path(job.source_path).name


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S")))
    except ValueError:
        return None
