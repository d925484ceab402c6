"""``mvsepd retry``: start a job again without paying twice for what MVSEP still has.

A job that has a separation hash is first looked up at MVSEP. While MVSEP still has it
(finished, waiting or processing) the job is followed again, from ``submitted``: no upload, no
credits, and its stems are placed again where its first attempt put them. Only a job MVSEP no
longer has, or one MVSEP itself failed, is uploaded again (from ``stable``), and the answer
says so with what it will cost; ``upload_again`` asks for that whatever MVSEP has. When MVSEP
cannot be asked (the network, a refused token), nothing changes and the answer says why: a
retry never guesses its way into a second bill.

A job is uploaded again only from an input that is still there: the dropped file, or for a
chain step the stem of its parent step kept in the work folder; otherwise the answer says
plainly why it cannot run again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from mvsepd import audio, errors
from mvsepd.domain.plans import too_long_or_large
from mvsepd.domain.presets import PresetProblem, ResolvedPreset
from mvsepd.engine.context import Context
from mvsepd.models import JobRecord, JobState, RemoteStatus, SeparationStatus

log = structlog.get_logger("mvsepd.engine")


@dataclass(frozen=True)
class RetryAnswer:
    """What a retry did: the job as it is now, in words, and whether it uploads again."""

    job: JobRecord
    words: str
    uploads: bool


def retry(context: Context, job_id: int, *, upload_again: bool = False) -> RetryAnswer:
    """Start ``job_id`` again (see the module docstring). Raise InputError, changing nothing,
    when it cannot be retried now, naming why."""
    job = context.store.get(job_id)
    if not job.state.terminal and job_id in context.cancel_requested:
        raise errors.InputError(
            f"job {job_id} is being cancelled (mvsepd is still talking to MVSEP about it); "
            "retry it once it shows cancelled",
            field="job",
        )
    if not job.state.terminal and job.state is not JobState.HELD:
        raise errors.InputError(
            f"job {job_id} is {job.state.value}; only failed, cancelled, done, unpublished or "
            "held jobs can be retried",
            field="job",
        )
    found = None
    if job.separation_hash and not upload_again and job.state is not JobState.HELD:
        found = _at_mvsep(context, job)
    if found is not None and (found.status is RemoteStatus.DONE or not found.status.finished):
        return _follow(context, job, found)
    why = _why_upload(job, found, upload_again)
    return _upload_again(context, job, why)


def _at_mvsep(context: Context, job: JobRecord) -> SeparationStatus:
    """MVSEP's answer about the job; InputError when it cannot be had now."""
    assert job.separation_hash is not None
    try:
        return context.client.get_separation(job.separation_hash, server=job.server)
    except errors.NotFoundError:
        return SeparationStatus(
            hash=job.separation_hash, status=RemoteStatus.NOT_FOUND, raw_status="not_found"
        )
    except errors.InvalidTokenError:
        raise errors.InputError(
            f"job {job.id}: MVSEP refused the API token, so mvsepd cannot ask whether it still "
            "has the job; run `mvsepd login`, then retry",
            field="job",
        ) from None
    except errors.MvsepError as error:
        raise errors.InputError(
            f"job {job.id}: could not ask MVSEP whether it still has the job ({error.detail}); "
            f"nothing was sent. Try again, or `mvsepd retry --upload-again {job.id}` to upload "
            f"it again ({_cost(context, job)})",
            field="job",
        ) from None


def _follow(context: Context, job: JobRecord, found: SeparationStatus) -> RetryAnswer:
    """MVSEP still has the job: follow it again from ``submitted`` (no upload)."""
    store = context.store
    now = context.clock()
    updated = store.transition(
        job.id,
        JobState.SUBMITTED,
        expected=job.state,
        adopt=job.owner_host != store.host_id,
        reason=None,
        attempts=0,
        oversize_downloads=0,
        remote_status=found.raw_status or found.status.value,
        queue_count=None,
        current_order=None,
        polls=0,
        next_attempt_at=now,
        publish_started_at=None,
        finished_at=None,
        retries=job.retries + 1,
        # The steps from here on are this attempt's (its processing is not timed: it began
        # before the retry).
        timings_json=json.dumps({"retried": now}),
    )
    store.reopen_deliveries_of(job.id)
    context.feed.bump()
    if found.status is RemoteStatus.DONE:
        fetched = "downloaded again" if job.state is JobState.DONE else "downloaded"
        state = f"it is done there: its stems are {fetched} and placed where they belong"
    else:
        state = f"it is {found.raw_status or 'still running'} there: followed again"
    words = f"job {job.id} ({job.source_name}): MVSEP still has it; {state}. No upload, no credits"
    log.info(
        "job_retried", job=job.id, file=job.source_name, follows=True, remote=found.status.value
    )
    return RetryAnswer(updated, words, uploads=False)


def _why_upload(job: JobRecord, found: SeparationStatus | None, upload_again: bool) -> str:
    if upload_again:
        return "as asked (--upload-again)"
    if found is None:
        return "it never reached MVSEP" if not job.separation_hash else "it is held"
    if found.status is RemoteStatus.FAILED:
        return f"MVSEP could not process it ({found.message or 'no reason given'})"
    return "MVSEP no longer has it (results are kept about 72 hours)"


def _upload_again(context: Context, job: JobRecord, why: str) -> RetryAnswer:
    """Send the job again from ``stable``, with its preset as it is now."""
    missing = _missing_input(context, job) or _local_problem(context, job)
    if missing is not None:
        raise errors.InputError(f"job {job.id} cannot run again: {why}, and {missing}", field="job")
    changes: dict[str, Any] = {
        "reason": None,
        "attempts": 0,
        "oversize_downloads": 0,
        "upload_json": None,
        "separation_hash": None,
        "remote_hash": None,
        "remote_status": None,
        "queue_count": None,
        "current_order": None,
        "publish_started_at": None,
        "finished_at": None,
        "retries": job.retries + 1,
        "timings_json": None,
    }
    # The preset may have been fixed since the job failed: use it as it is now.
    preset = context.preset(job.preset_name)
    if isinstance(preset, PresetProblem):
        if job.sep_type is None:
            raise errors.InputError(f"job {job.id}: preset {job.preset_name!r}: {preset}")
    else:
        changes.update(
            sep_type=preset.sep_type,
            options=dict(preset.options),
            output_format=int(context.fetched_format(preset.output_format, job.folder_path)),
        )
    store = context.store
    # Studio mode: a job retried here is this host's from now on (a held one of another host
    # too: nothing is in flight for it there).
    updated = store.transition(
        job.id,
        JobState.STABLE,
        expected=job.state,
        adopt=job.owner_host != store.host_id,
        **changes,
    )
    store.reopen_deliveries_of(job.id)
    context.feed.bump()
    words = f"job {job.id} ({job.source_name}) is uploaded again: {why}; {_cost(context, job)}"
    log.info("job_retried", job=job.id, file=job.source_name, follows=False, why=why)
    return RetryAnswer(updated, words, uploads=True)


def _cost(context: Context, job: JobRecord) -> str:
    """What sending the job again costs, in words."""
    if not context.account.spends_credits():
        return "the free queue: no credits"
    estimate = job.credits_reserved or job.credits_estimate
    if estimate is None:
        return "it costs credits again"
    return f"about {estimate} credit{'s' if estimate != 1 else ''} again"


def _local_problem(context: Context, job: JobRecord) -> str | None:
    """The checks a new file gets before its upload, run again (a retry must not send what
    would fail after MVSEP's queue): the input is audio and whole, the account's plan takes
    its length, and the folder's preset is usable on the account. None when all pass."""
    if job.input_kind in ("file", "matchering"):
        verdict = audio.check(Path(job.source_path))
        if verdict.completeness is audio.Completeness.INVALID:
            return f"its file needs fixing: {verdict.reason}"
    plans = context.config.account.plans
    plan = context.account.plan(plans)
    if plan is not None:
        other = None if plan.name == "premium" else plans.limits(premium=True)
        name = Path(job.source_path).name
        problems = too_long_or_large(
            name, seconds=job.duration_seconds, size=None, plan=plan, other=other
        )
        if problems:
            return f"its file needs fixing: {problems[0]}"
    preset = context.preset(job.preset_name)
    if isinstance(preset, ResolvedPreset):
        needs = context.premium_needs(preset.sep_type)
        if needs and context.account.is_free():
            return (
                f"its settings need fixing: {'; '.join(needs)} and this account uses the free "
                "plan (turn on premium usage at mvsep.com, or give the folder another preset)"
            )
    return None


def _missing_input(context: Context, job: JobRecord) -> str | None:
    """Why the job's input cannot be sent again, or None when it can."""
    if job.input_kind not in ("file", "matchering"):
        return None  # a link or a prompt: MVSEP fetches or makes the audio itself
    if Path(job.source_path).is_file():
        return None
    if job.parent_job_id is not None:
        step = job.input.get("step") or "a later step"
        chain = job.input.get("chain") or "its chain"
        return (
            f"its input (the {job.from_stem!r} stem of job {job.parent_job_id}, which feeds "
            f"step {step!r} of chain {chain!r}) is no longer kept here"
        )
    return f"its file {job.source_path} is no longer there (put it back to retry)"
