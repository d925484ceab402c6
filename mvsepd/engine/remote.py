"""Sending a job to MVSEP: an upload, a link, a prompt, or a target with its reference.

The separation hash is stored the moment create answers; a create whose answer was lost is
looked up in the history first (``reconcile``); a file that changed while it was sent is
cancelled at MVSEP and becomes a job of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog

from mvsepd import errors
from mvsepd.domain import lifecycle
from mvsepd.domain.lifecycle import Outcome
from mvsepd.engine import sending
from mvsepd.engine.context import HOLD_TOKEN, Context
from mvsepd.models import (
    FailureKind,
    HoldKind,
    JobRecord,
    JobState,
    OutputFormat,
    RemoteStatus,
    SeparationCreated,
)

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
        return context.fail(
            job, "the file was removed before it could be uploaded", kind=FailureKind.FILE
        )
    reference = Path(job.input["reference"]) if job.input_kind == "matchering" else None
    if reference is not None and _stat(reference) is None:
        return context.fail(
            job, f"the reference {reference} was removed before the upload", kind=FailureKind.FILE
        )
    progress = context.live_reporter(job.id, "uploading")

    assert job.sep_type is not None and job.output_format is not None
    sent: str | None = None
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
            created, sent = _send_file(context, job, path, progress)
    except (errors.LeaseLostError, errors.StoreUnavailableError):
        raise  # studio mode: the job is another host's now, or the database is away
    except Exception as error:  # noqa: BLE001 (every failure is judged and recorded)
        context.clear_live(job.id)
        return _upload_failed(context, job, error)
    context.clear_live(job.id)
    # The hash goes into the store before anything else happens: from here on, a crash
    # resumes polling instead of paying for a second upload.
    now = context.clock()
    current = context.store.get(job.id)
    submitted = context.store.transition(
        job.id,
        JobState.SUBMITTED,
        expected=JobState.UPLOADING,
        separation_hash=created.hash,
        server=created.server,
        remote_status=RemoteStatus.WAITING.value,
        polls=0,
        next_attempt_at=now + context.settings.poll_near_seconds,
        reason=None,
        timings_json=current.with_timings(submitted=now),
        upload_json=sent if sent is not None else current.upload_json,
    )
    context.feed.bump()
    log.info("job_submitted", job=job.id, file=path.name, server=created.server)
    if _stat(path) != before:
        return _changed_during_upload(context, submitted)
    return submitted


def _send_file(
    context: Context, job: JobRecord, path: Path, progress: Callable[[int, int], None]
) -> tuple[SeparationCreated, str]:
    """Upload a file job: a FLAC streamed as it is encoded where the server takes that, else
    with its length. A streamed upload that the server refuses as one that takes no body
    without a length, or whose source stops reading half-way, created nothing at MVSEP (the
    body never ended): it goes again at once with its length (for good, for a refusal)."""
    assert job.sep_type is not None and job.output_format is not None
    streamed = True
    while True:
        with sending.prepared(context, job, path, streamed=streamed) as plan:
            try:
                created = context.client.create_separation(
                    plan.path,
                    sep_type=job.sep_type,
                    options=job.options,
                    output_format=OutputFormat(job.output_format),
                    catalog=context.catalog.algorithms,
                    progress=progress if plan.stream is None else None,
                    upload_name=plan.name,
                    stream=plan.stream.chunks() if plan.stream is not None else None,
                )
            except errors.StreamRefusedError as refused:
                if plan.stream is None:
                    raise refused.refusal from None
                sending.remember_needs_length(context, refused.detail)
                streamed = False
                continue
            except errors.AudioError as error:
                if plan.stream is None:
                    raise
                log.warning("upload_stream_failed", job=job.id, file=path.name, error=str(error))
                streamed = False
                continue
            return created, sending.sent_record(plan)


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
    except (errors.LeaseLostError, errors.StoreUnavailableError):
        raise  # studio mode: the job is another host's now, or the database is away
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
        next_attempt_at=context.clock() + context.settings.poll_near_seconds,
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
    except (errors.LeaseLostError, errors.StoreUnavailableError):
        raise  # studio mode: the job is another host's now, or the database is away
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
        next_attempt_at=context.clock() + context.settings.poll_near_seconds,
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
    return context.fail(job, reason, kind=FailureKind.FILE)


def _upload_failed(context: Context, job: JobRecord, error: BaseException) -> JobRecord:
    now = context.clock()
    if isinstance(error, errors.InputError):
        if job.input_kind in ("file", "matchering") and not Path(job.source_path).exists():
            return context.fail(
                job, "the file was removed before it could be uploaded", kind=FailureKind.FILE
            )
        return context.fail(job, str(error), kind=FailureKind.FILE)
    verdict = context.judge(error, job.id, job.source_name)
    ambiguous = isinstance(error, errors.ServerError | errors.ProtocolError)
    if verdict.outcome is Outcome.RECONCILE or ambiguous:
        # The create may have happened: the next step looks for it in the history first.
        context.sends_ended[job.id] = now
        log.warning(
            "upload_outcome_unknown",
            job=job.id,
            file=Path(job.source_path).name,
            error=str(error),
            note="checking MVSEP's history before anything is sent again",
        )
        return context.store.update_progress(
            job.id,
            next_attempt_at=now + context.settings.poll_first_seconds,
            reason=f"checking whether MVSEP received the upload ({verdict.reason})",
        )
    if verdict.outcome is Outcome.HOLD_TOKEN:
        if context.account.update(token_problem=str(error), now=now):
            log.error("token_invalid", detail=str(error), note="holding every submission")
        held = context.store.transition(
            job.id,
            JobState.HELD,
            expected=JobState.UPLOADING,
            reason=HOLD_TOKEN,
            hold_kind=HoldKind.TOKEN,
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
    return context.fail(job, verdict.reason, kind=verdict.kind)
