"""From a finished file in a hot folder to priced jobs ready for submission.

``ingest`` turns a file the intake found complete into its jobs (``sources`` says which: one
per preset, a chain's first steps, a link, a prompt, a matchering pair) or recognises them: the
same input with the same preset is one job, whatever its name or folder, and a second place
asking for it gets a delivery of the same results, not a second payment. ``probe`` reads the
audio's length and prices the job (for a chain's first step, the whole chain). A file that can
never be used becomes a failed job with the reason, so it is visible in ``mvsepd status`` and
the tray; the original is left untouched.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import structlog

from mvsepd import audio, errors
from mvsepd.domain import cost
from mvsepd.domain.chains import ChainPlan
from mvsepd.domain.presets import PresetProblem, fingerprint
from mvsepd.engine import sources
from mvsepd.engine.context import Context
from mvsepd.intake import FileStat, ReadyFile
from mvsepd.models import DeliveryState, FailureKind, JobRecord, JobState, OutputFormat
from mvsepd.store import CHECKING, DeliveryKeys, SourceRecord

log = structlog.get_logger("mvsepd.engine")

#: In a studio, another host's check of a file older than this is taken for one that died with
#: its host (hashing an export on a slow share takes far less); the file is looked at again.
CHECK_CLAIM_SECONDS = 600.0

#: One folder's files are judged one at a time: a file and its partner (a sidecar, a text, a
#: reference) ready together must see each other, or each would wait for the other.
_FOLDER_LOCKS: dict[str, threading.Lock] = {}
_FOLDER_LOCKS_GUARD = threading.Lock()


def _folder_lock(folder: Path) -> threading.Lock:
    with _FOLDER_LOCKS_GUARD:
        return _FOLDER_LOCKS.setdefault(str(folder), threading.Lock())


def is_known(context: Context, folder: Path, relative_path: str, stat: FileStat) -> bool:
    """True when this exact file (path, size, mtime) was already handled, or is being checked
    (see ``checks_since``)."""
    record = context.store.source(str(folder), relative_path)
    if record is None or record.size != stat.size or record.mtime_ns != stat.mtime_ns:
        return False
    return record.verdict != CHECKING or record.seen_at >= checks_since(context)


def known_files(context: Context, folder: Path) -> dict[str, tuple[int, int]]:
    """Every file of ``folder`` handled (or being checked), by relative path: (size, mtime)."""
    return context.store.source_stats(str(folder), checks_since=checks_since(context))


def checks_since(context: Context) -> float:
    """Checks begun before this moment that never ended were cut short: their files are looked
    at again. Every check from before this daemon started is (the process making it is gone:
    a kill while it hashed must not leave the file unseen for ever); in a studio so is another
    host's older than ``CHECK_CLAIM_SECONDS`` (that host died while it checked)."""
    since = context.started_at
    if context.store.host_id is not None:
        since = max(since, context.clock() - CHECK_CLAIM_SECONDS)
    return since


def ingest(context: Context, ready: ReadyFile) -> list[JobRecord]:
    """Create (or find) the jobs a complete file asks for; return them (empty when it waits
    for a partner, or vanished)."""
    folder = context.folders.get(ready.folder)
    if folder is None:
        return []
    with _folder_lock(folder.path):
        # Recorded first: a partner this file completes (a reference, a sidecar) sees it.
        _record(context, folder.path, ready, None, None, CHECKING)
        try:
            outcomes = sources.requests_for(context, folder, ready)
        except FileNotFoundError:
            log.info("file_gone_before_hashing", file=str(ready.path))
            return []
        except OSError as error:
            log.warning("file_unreadable", file=str(ready.path), error=error.strerror)
            return []
        jobs: list[JobRecord] = []
        made: list[tuple[JobRecord, bool]] = []
        for outcome in outcomes:
            if isinstance(outcome, sources.JobRequest):
                made.append(_make(context, outcome))
            elif isinstance(outcome, sources.Refusal):
                made.append(_refuse(context, folder.path, ready, outcome))
        if made:
            first = made[0][0]
            verdict = "job" if any(created for _, created in made) else "duplicate"
            _record(context, folder.path, ready, first.content_sha256, first.id, verdict)
        else:
            waiting = sources.partners_waiting(outcomes)
            _record(context, folder.path, ready, None, None, "waiting")
            log.info("file_waits", file=str(ready.path), reason="; ".join(waiting))
    for job, created in made:
        if not created:
            continue
        if ready.rejected_reason is not None:
            jobs.append(context.fail(job, ready.rejected_reason, kind=FailureKind.FILE))
        else:
            jobs.append(probe(context, job, ready_at=ready.ready_at))
    return jobs


def _make(context: Context, request: sources.JobRequest) -> tuple[JobRecord, bool]:
    preset = request.preset
    size = request.source_path.stat().st_size if request.kind == "file" else None
    job, created = context.store.find_or_create(
        content_sha256=request.identity,
        preset_fingerprint=preset.fingerprint,
        preset_name=request.preset_name,
        folder_path=request.delivery.folder_path,
        source_path=str(request.source_path),
        source_size=size,
        sep_type=preset.sep_type,
        options=dict(preset.options),
        output_format=int(
            context.fetched_format(preset.output_format, request.delivery.folder_path)
        ),
        input_kind=request.kind,
        input_json=json.dumps(request.input, ensure_ascii=False) if request.input else None,
        delivery=request.delivery,
    )
    if created:
        log.info(
            "job_created", job=job.id, file=request.source_path.name, preset=request.preset_name
        )
        context.feed.bump()
        return job, True
    delivery, added = context.store.add_delivery(job.id, request.delivery)
    if added and job.state in (JobState.FAILED, JobState.CANCELLED):
        reason = f"job {job.id} {job.state.value}: {job.reason}"
        context.store.finish_delivery(delivery.id, DeliveryState.FAILED, reason=reason)
    log.info(
        "already_known",
        file=request.source_path.name,
        job=job.id,
        state=job.state.value,
        note=(
            f"same {_what(request.kind)} with the same preset: not submitted again"
            + ("; its stems are placed here too" if added else "")
        ),
    )
    if added:
        context.feed.bump()
    return job, False


def _what(kind: str) -> str:
    return {"url": "link", "prompt": "prompt", "matchering": "pair"}.get(kind, "audio")


def _refuse(
    context: Context, folder: Path, ready: ReadyFile, refusal: sources.Refusal
) -> tuple[JobRecord, bool]:
    """A failed job saying why the file cannot be used (its identity rests on the file and the
    preset name, so a retry after the configuration is fixed resolves it anew)."""
    job, created = context.store.find_or_create(
        content_sha256=sources.refusal_identity(ready.path, refusal.preset_name),
        preset_fingerprint=fingerprint(-1, {"refused": refusal.preset_name}, OutputFormat.MP3),
        preset_name=refusal.preset_name,
        folder_path=str(folder),
        source_path=str(ready.path),
        source_size=ready.stat.size,
        sep_type=None,
        options={},
        output_format=None,
        input_json=json.dumps({"refused": refusal.reason}),
        delivery=DeliveryKeys(str(folder), str(ready.path), refusal.preset_name),
    )
    if created:
        log.info("job_created", job=job.id, file=ready.path.name, preset=refusal.preset_name)
        context.feed.bump()
        return context.fail(job, refusal.reason, kind=refusal.kind), False
    return job, False


def _record(
    context: Context,
    folder: Path,
    ready: ReadyFile,
    content: str | None,
    job_id: int | None,
    verdict: str,
) -> None:
    context.store.record_source(
        SourceRecord(
            folder_path=str(folder),
            relative_path=ready.relative_path,
            size=ready.stat.size,
            mtime_ns=ready.stat.mtime_ns,
            content_sha256=content,
            job_id=job_id,
            verdict=verdict,
        )
    )


def probe(context: Context, job: JobRecord, *, ready_at: float | None = None) -> JobRecord:
    """Read a discovered job's input, price it, and make it ready (stable) or failed
    (``ready_at``: when intake judged its file complete, kept in its timings)."""
    duration: float | None = None
    source_audio = None
    if job.input_kind in ("file", "matchering"):
        path = Path(job.source_path)
        verdict = audio.check(path)
        if verdict.completeness is audio.Completeness.GONE:
            return context.fail(
                job, "the file was removed before it could be uploaded", kind=FailureKind.FILE
            )
        if verdict.completeness is audio.Completeness.INVALID:
            return context.fail(job, verdict.reason, kind=FailureKind.FILE)
        info = verdict.info or audio.probe(path)
        duration = info.duration_seconds
        source_audio = _describe(path)
        if duration is None and source_audio is not None:
            duration = source_audio.duration_seconds
    elif job.input.get("root_duration") is not None:
        duration = float(job.input["root_duration"])
    estimate, reserved = _price(context, job, duration)
    updated = context.store.transition(
        job.id,
        JobState.STABLE,
        expected=JobState.DISCOVERED,
        duration_seconds=duration,
        credits_estimate=estimate,
        credits_reserved=reserved,
        source_audio=json.dumps(source_audio.to_json()) if source_audio is not None else None,
        reason=None,
        timings_json=job.with_timings(ready=ready_at) if ready_at is not None else job.timings_json,
    )
    context.feed.bump()
    log.info(
        "job_ready",
        job=job.id,
        duration=round(duration, 1) if duration is not None else None,
        credits=estimate,
        reserved=reserved,
    )
    return updated


def _price(
    context: Context, job: JobRecord, duration: float | None
) -> tuple[int | None, int | None]:
    """The job's estimate, and for a chain's first step what the whole chain will cost (each
    step at the source's length), so that no chain stops half-paid by the daily budget."""
    if duration is None:
        return None, None
    preset = context.preset(job.preset_name)
    chain = context.chain(job.input.get("chain", "")) if job.input.get("chain") else None
    if isinstance(chain, ChainPlan):
        step = next((s for s in chain.steps if s.id == job.input.get("step")), None)
        if step is None or step.preset.algorithm is None:
            return None, None
        estimate = cost.estimate_credits(step.preset.algorithm, job.options, duration).credits
        if step.parent is not None:
            parent = context.store.get(job.parent_job_id) if job.parent_job_id else None
            # Reserved with the chain's first step, unless that step was an existing job.
            reserved = 0 if parent is not None and parent.credits_reserved is not None else None
            return estimate, reserved
        total = 0
        for each in chain.steps:
            if each.preset.algorithm is not None:
                total += cost.estimate_credits(
                    each.preset.algorithm, each.preset.options, duration
                ).credits
        return estimate, total
    if isinstance(preset, PresetProblem) or preset.algorithm is None:
        return None, None
    return cost.estimate_credits(preset.algorithm, job.options, duration).credits, None


def _describe(path: Path) -> audio.SourceAudio | None:
    """What the source is, for conforming its stems (None when it cannot be decoded here: its
    stems are then placed as MVSEP sends them, and the manifest says why)."""
    try:
        return audio.describe(path)
    except errors.AudioError as error:
        log.info("source_not_described", file=str(path), reason=str(error))
        return None
    except OSError as error:
        log.info("source_not_described", file=str(path), reason=error.strerror)
        return None
