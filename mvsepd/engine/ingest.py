"""From a finished file in a hot folder to a priced job ready for submission.

``ingest`` turns a file the intake found complete into a job (or recognises it: the same bytes
with the same preset are one job, whatever their name or folder); ``probe`` reads the audio's
length and prices it. A file that can never be used becomes a failed job with the reason, so it
is visible in ``mvsepd status`` and the tray, and the original is left untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import structlog

from mvsepd import audio, cost, errors
from mvsepd.engine.context import Context
from mvsepd.hashing import file_sha256
from mvsepd.intake import ReadyFile
from mvsepd.models import JobRecord, JobState, OutputFormat
from mvsepd.presets import PresetProblem, fingerprint
from mvsepd.store import SourceRecord

log = structlog.get_logger("mvsepd.engine")


def ingest(context: Context, ready: ReadyFile) -> JobRecord | None:
    """Create (or find) the job for a complete file; return it, or None when it vanished."""
    folder = context.folders.get(ready.folder)
    if folder is None:
        return None
    try:
        content_sha256 = file_sha256(ready.path)
    except FileNotFoundError:
        log.info("file_gone_before_hashing", file=str(ready.path))
        return None
    except OSError as error:
        log.warning("file_unreadable", file=str(ready.path), error=error.strerror)
        return None
    preset = context.preset(folder.config.preset)
    if isinstance(preset, PresetProblem):
        # The job's identity then rests on the preset name; it fails with the reason, and a
        # retry after the configuration is fixed resolves the preset anew.
        identity = fingerprint(-1, {"unresolved_preset": folder.config.preset}, OutputFormat.MP3)
        sep_type, options, output_format = None, {}, None
    else:
        identity = preset.fingerprint
        sep_type, options, output_format = (
            preset.sep_type,
            dict(preset.options),
            int(preset.output_format),
        )
    job, created = context.store.find_or_create(
        content_sha256=content_sha256,
        preset_fingerprint=identity,
        preset_name=folder.config.preset,
        folder_path=str(folder.path),
        source_path=str(ready.path),
        source_size=ready.stat.size,
        sep_type=sep_type,
        options=options,
        output_format=output_format,
    )
    context.store.record_source(
        SourceRecord(
            folder_path=str(folder.path),
            relative_path=ready.relative_path,
            size=ready.stat.size,
            mtime_ns=ready.stat.mtime_ns,
            content_sha256=content_sha256,
            job_id=job.id,
            verdict="job" if created else "duplicate",
        )
    )
    if not created:
        log.info(
            "already_known",
            file=str(ready.path),
            job=job.id,
            state=job.state.value,
            note="same audio with the same preset; not submitted again",
        )
        return job
    log.info("job_created", job=job.id, file=str(ready.path), preset=folder.config.preset)
    context.feed.bump()
    if ready.rejected_reason is not None:
        return context.fail(job, ready.rejected_reason)
    if isinstance(preset, PresetProblem):
        return context.fail(job, f"preset {folder.config.preset!r}: {preset}")
    return probe(context, job)


def probe(context: Context, job: JobRecord) -> JobRecord:
    """Read a discovered job's audio, price it, and make it ready (stable) or failed."""
    path = Path(job.source_path)
    verdict = audio.check(path)
    if verdict.completeness is audio.Completeness.GONE:
        return context.fail(job, "the file was removed before it could be uploaded")
    if verdict.completeness is audio.Completeness.INVALID:
        return context.fail(job, verdict.reason)
    info = verdict.info or audio.probe(path)
    duration = info.duration_seconds
    source_audio = _describe(path)
    if duration is None and source_audio is not None:
        duration = source_audio.duration_seconds
    estimate = None
    preset = context.preset(job.preset_name)
    if duration is not None and not isinstance(preset, PresetProblem) and preset.algorithm:
        estimate = cost.estimate_credits(preset.algorithm, job.options, duration).credits
    updated = context.store.transition(
        job.id,
        JobState.STABLE,
        expected=JobState.DISCOVERED,
        duration_seconds=duration,
        credits_estimate=estimate,
        source_audio=json.dumps(source_audio.to_json()) if source_audio is not None else None,
        reason=None,
    )
    context.feed.bump()
    log.info(
        "job_ready",
        job=job.id,
        duration=round(duration, 1) if duration is not None else None,
        credits=estimate,
    )
    return updated


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
