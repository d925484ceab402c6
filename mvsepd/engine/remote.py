"""The steps that talk to MVSEP about a job: upload, reconcile a lost upload, poll, cancel.

Nothing is paid twice: the separation hash is stored the moment create answers; an upload whose
answer was lost (or garbled, or a 5xx that may have come after the job was made) is looked up in
the account's separation history before anything is sent again; a submitted job keeps its slot
while its status is being fetched, however long MVSEP or the network take.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import structlog

from mvsepd import errors, lifecycle
from mvsepd.api.wire import filename_slug, hash_created_at, hash_matches_filename
from mvsepd.engine.context import HOLD_TOKEN, RESULT_LIFETIME_SECONDS, Context
from mvsepd.lifecycle import Outcome
from mvsepd.models import HistoryEntry, JobRecord, JobState, OutputFormat, RemoteStatus

log = structlog.get_logger("mvsepd.engine")


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def upload(context: Context, job: JobRecord) -> JobRecord:
    """Send an uploading job to MVSEP (its file, its link, its prompt, or its target and
    reference) and store the hash it answers with."""
    if job.input_kind == "url":
        return _create_from_url(context, job)
    if job.input_kind == "prompt":
        return _create_from_prompt(context, job)
    path = Path(job.source_path)
    before = _stat(path)
    if before is None:
        return context.fail(job, "the file was removed before it could be uploaded")
    reference = Path(job.input["reference"]) if job.input_kind == "matchering" else None
    if reference is not None and _stat(reference) is None:
        return context.fail(job, f"the reference {reference} was removed before the upload")
    last_bump = [0.0]

    def progress(sent: int, total: int) -> None:
        context.set_live(job.id, "uploading", sent, total)
        now = time.monotonic()
        if now - last_bump[0] >= 0.5 or sent >= total:
            last_bump[0] = now
            context.feed.bump()

    assert job.sep_type is not None and job.output_format is not None
    try:
        if reference is not None:
            created = context.client.create_matchering(
                path,
                reference,
                sep_type=job.sep_type,
                options=job.options,
                output_format=OutputFormat(job.output_format),
                catalog=context.catalog.algorithms,
                progress=progress,
            )
        else:
            created = context.client.create_separation(
                path,
                sep_type=job.sep_type,
                options=job.options,
                output_format=OutputFormat(job.output_format),
                catalog=context.catalog.algorithms,
                progress=progress,
            )
    except Exception as error:  # noqa: BLE001 (every failure is judged and recorded)
        context.clear_live(job.id)
        return _upload_failed(context, job, error)
    context.clear_live(job.id)
    # The hash goes into the store before anything else happens: from here on, a crash
    # resumes polling instead of paying for a second upload.
    submitted = context.store.transition(
        job.id,
        JobState.SUBMITTED,
        expected=JobState.UPLOADING,
        separation_hash=created.hash,
        server=created.server,
        remote_status=RemoteStatus.WAITING.value,
        polls=0,
        next_attempt_at=context.clock() + context.settings.poll_first_seconds,
        reason=None,
    )
    context.feed.bump()
    log.info("job_submitted", job=job.id, file=path.name, server=created.server)
    if _stat(path) != before:
        return _changed_during_upload(context, submitted)
    return submitted


def _create_from_url(context: Context, job: JobRecord) -> JobRecord:
    """Ask MVSEP to fetch a link; keep the short hash it answers with until the real one."""
    assert job.sep_type is not None and job.output_format is not None
    try:
        created = context.client.create_separation_from_url(
            str(job.input["url"]),
            remote_type=str(job.input.get("remote_type") or "direct"),
            sep_type=job.sep_type,
            options=job.options,
            output_format=OutputFormat(job.output_format),
            catalog=context.catalog.algorithms,
        )
    except Exception as error:  # noqa: BLE001 (every failure is judged and recorded)
        return _upload_failed(context, job, error)
    submitted = context.store.transition(
        job.id,
        JobState.SUBMITTED,
        expected=JobState.UPLOADING,
        remote_hash=created.short_hash,
        server=created.server,
        remote_status="fetching",
        polls=0,
        next_attempt_at=context.clock() + context.settings.poll_first_seconds,
        reason=None,
    )
    context.feed.bump()
    log.info("job_submitted", job=job.id, link=job.input.get("url"), server=created.server)
    return submitted


def _create_from_prompt(context: Context, job: JobRecord) -> JobRecord:
    """A text-only model: no upload, the prompt is one of the options."""
    assert job.sep_type is not None and job.output_format is not None
    try:
        created = context.client.create_without_upload(
            sep_type=job.sep_type,
            options=job.options,
            output_format=OutputFormat(job.output_format),
            catalog=context.catalog.algorithms,
        )
    except Exception as error:  # noqa: BLE001 (every failure is judged and recorded)
        return _upload_failed(context, job, error)
    submitted = context.store.transition(
        job.id,
        JobState.SUBMITTED,
        expected=JobState.UPLOADING,
        separation_hash=created.hash,
        server=created.server,
        remote_status=RemoteStatus.WAITING.value,
        polls=0,
        next_attempt_at=context.clock() + context.settings.poll_first_seconds,
        reason=None,
    )
    context.feed.bump()
    log.info("job_submitted", job=job.id, prompt_file=Path(job.source_path).name)
    return submitted


def _changed_during_upload(context: Context, job: JobRecord) -> JobRecord:
    reason = (
        "the file changed while it was being uploaded; MVSEP may have received a mix of old "
        "and new audio, so this job was cancelled and the new version becomes a job of its own"
    )
    try:
        assert job.separation_hash is not None
        context.client.cancel_separation(job.separation_hash, server=job.server)
    except errors.MvsepError as error:
        reason += f" (cancelling at MVSEP failed: {error.detail})"
    return context.fail(job, reason)


def _upload_failed(context: Context, job: JobRecord, error: BaseException) -> JobRecord:
    now = context.clock()
    if isinstance(error, errors.InputError):
        if job.input_kind in ("file", "matchering") and not Path(job.source_path).exists():
            return context.fail(job, "the file was removed before it could be uploaded")
        return context.fail(job, str(error))
    verdict = lifecycle.judge_error(error)
    ambiguous = isinstance(error, errors.ServerError | errors.ProtocolError)
    if verdict.outcome is Outcome.RECONCILE or ambiguous:
        # The create may have happened: the next step looks for it in the history first.
        context.sends_ended[job.id] = now
        log.warning("upload_outcome_unknown", job=job.id, error=str(error))
        return context.store.update_progress(
            job.id,
            next_attempt_at=now + context.settings.poll_first_seconds,
            reason=f"checking whether MVSEP received the upload ({verdict.reason})",
        )
    if verdict.outcome is Outcome.HOLD_TOKEN:
        if context.account.update(token_problem=str(error), now=now):
            log.error("token_invalid", detail=str(error), note="holding every submission")
        held = context.store.transition(
            job.id, JobState.HELD, expected=JobState.UPLOADING, reason=HOLD_TOKEN
        )
        context.feed.bump()
        return held
    if verdict.outcome is Outcome.WAIT_SLOT:
        delay = lifecycle.retry_delay(
            job.attempts + 1,
            base=lifecycle.QUEUE_FULL_BASE_SECONDS,
            cap=lifecycle.QUEUE_FULL_CAP_SECONDS,
            rng=context.rng,
        )
        return context.retry_later(
            job, resume=JobState.STABLE, words=verdict.reason, delay=delay, event="upload_retry"
        )
    if verdict.outcome is Outcome.RETRY:
        delay = lifecycle.retry_delay(
            job.attempts + 1, retry_after=getattr(error, "retry_after", None), rng=context.rng
        )
        return context.retry_later(
            job, resume=JobState.STABLE, words=verdict.reason, delay=delay, event="upload_retry"
        )
    return context.fail(job, verdict.reason)


def reconcile(context: Context, job: JobRecord) -> JobRecord:
    """Find an upload whose answer was lost in the account's history; else make it stable again.

    Never uploads: a job found here is submitted with the hash MVSEP gave it; a job not found
    goes back to ``stable`` and the scheduler uploads it in its turn.
    """
    now = context.clock()
    try:
        entries = _history(context)
    except errors.MvsepError as error:
        verdict = lifecycle.judge_error(error)
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
    """The file name MVSEP saw for a job (its hash carries a slug of it): the file's, the
    target's, the link's last path part, or the prompt's first words."""
    if job.input_kind == "url":
        path = urlsplit(str(job.input.get("url", ""))).path
        return PurePosixPath(unquote(path)).name or "remote-audio"
    if job.input_kind == "prompt":
        return str(job.input.get("prompt", ""))[:60] + ".wav"
    return Path(job.source_path).name


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S")))
    except ValueError:
        return None


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
        log.info("poll_failed", job=job.id, reason=verdict.reason, retry_in=round(delay))
        return context.store.update_progress(
            job.id,
            polls=job.polls + 1,
            next_attempt_at=now + delay,
            reason=f"checking MVSEP failed ({verdict.reason}); trying again",
        )
    if status.status is RemoteStatus.DONE:
        context.not_found_counts.pop(job.id, None)
        with context.lock:
            context.finished_status[job.id] = status
        done = context.store.transition(
            job.id,
            JobState.DOWNLOADING,
            expected=JobState.SUBMITTED,
            remote_status=status.raw_status,
            queue_count=None,
            current_order=None,
            reason=None,
        )
        context.feed.bump()
        log.info("job_finished_at_mvsep", job=job.id, files=len(status.files))
        return done
    if status.status is RemoteStatus.FAILED:
        message = status.message or "no reason given"
        return context.fail(job, f"MVSEP could not process the file: {message}")
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
            job, f"MVSEP could not fetch the link: {status.message or 'no reason given'}"
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
        )
    count = context.not_found_counts.get(job.id, 0) + 1
    context.not_found_counts[job.id] = count
    if count >= context.settings.not_found_tolerance:
        context.not_found_counts.pop(job.id, None)
        return context.fail(job, "MVSEP no longer knows this job (not found)")
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
