"""Fetching a finished job's stems into its output folder, with a manifest, then ``done``.

Each stem is downloaded into the job's staging folder (resumable ``.part`` files), then every
stem is moved into place and ``manifest.json`` is written last (``mvsepd.outputs``). A download
that fails part-way resumes where it stopped; results MVSEP has deleted fail the job with the
reason; a result URL that points anywhere but the job's own host is refused.
"""

from __future__ import annotations

import datetime
import functools
from pathlib import Path
from typing import Any

import structlog

from mvsepd import __version__, errors, lifecycle, naming, outputs
from mvsepd.config import FolderConfig
from mvsepd.engine import stems
from mvsepd.engine.context import RESULT_LIFETIME_SECONDS, Context
from mvsepd.hashing import file_sha256
from mvsepd.lifecycle import Outcome
from mvsepd.models import JobRecord, JobState, OutputFormat, RemoteStatus, ResultFile

log = structlog.get_logger("mvsepd.engine")

_MIN_DOWNLOAD_CAP = 8 * 1024 * 1024
#: The live phase while stems are checked and brought to their source's format.
CONFORMING = "conforming"


def download(context: Context, job: JobRecord) -> JobRecord:
    """Download and place every result file of a finished job; return the job (done or not)."""
    assert job.separation_hash is not None
    with context.lock:
        status = context.finished_status.pop(job.id, None)
    try:
        if status is None:
            status = context.client.get_separation(job.separation_hash, server=job.server)
        if status.status is RemoteStatus.NOT_FOUND:
            raise errors.NotFoundError("not found", endpoint="/separation/get")
        if status.status is not RemoteStatus.DONE:
            # Should not happen; go back to polling rather than guess.
            return context.store.transition(
                job.id, JobState.SUBMITTED, expected=JobState.DOWNLOADING
            )
        if not status.files:
            return context.fail(job, "MVSEP finished but listed no result files")
        return _place(context, job, status.files, status.algorithm)
    except Exception as error:  # noqa: BLE001 (every failure is judged and recorded)
        context.clear_live(job.id)
        return _download_failed(context, job, error)


def _place(
    context: Context, job: JobRecord, files: tuple[ResultFile, ...], algorithm: str | None
) -> JobRecord:
    folder = context.folder_for(job.folder_path)
    source = Path(job.source_path)
    root = context.output_root(job)
    if folder is not None:
        template, collision = folder.config.output, folder.config.on_collision
        subdir = _subdir(source, folder.path)
    else:
        # The folder left the configuration while the job ran: use the default layout.
        template, collision, subdir = naming.DEFAULT_OUTPUT_TEMPLATE, "unique", ""
    default_extension = OutputFormat(job.output_format or 0).extension
    settings = (
        context.config.stem_settings(folder.config)
        if folder is not None
        else context.config.defaults
    )
    layout = stems.lay_out(
        files, default_extension, settings, functools.partial(stems.source_audio, job)
    )
    values = {"track": source.stem, "preset": job.preset_name, "subdir": subdir}
    output_plan = outputs.plan(
        job_id=job.id, root=root, template=template, values=values, stems=layout.requests
    )
    earlier = outputs.written_manifest(output_plan)
    if earlier is not None and earlier.get("mvsep", {}).get("hash") == job.separation_hash:
        # An earlier attempt placed every stem and wrote the manifest, then stopped before the
        # job was marked done: mark it now instead of fetching and placing the stems again.
        outputs.discard(output_plan.staging_dir)
        names = [str(item.get("name")) for item in earlier.get("outputs", [])]
        log.info("stems_found_in_place", job=job.id, note="placed by an interrupted attempt")
    else:
        names = _fetch_and_finalize(context, job, output_plan, layout, files, algorithm, collision)
    if folder is not None and folder.config.after_success == "move":
        _move_original(folder.config, source, job)
    done = context.store.transition(
        job.id,
        JobState.DONE,
        expected=JobState.DOWNLOADING,
        output_dir=str(output_plan.manifest.parent),
        reason=None,
    )
    context.feed.bump()
    log.info(
        "stems_ready",
        job=job.id,
        file=source.name,
        folder=str(output_plan.manifest.parent),
        stems=names,
    )
    return done


def _fetch_and_finalize(
    context: Context,
    job: JobRecord,
    output_plan: outputs.OutputPlan,
    layout: stems.ResultLayout,
    files: tuple[ResultFile, ...],
    algorithm: str | None,
    collision: outputs.Collision,
) -> list[str]:
    """Download every stem not yet fetched, conform them, then move them all into place."""
    outputs.prepare(output_plan)
    placed = outputs.already_placed(output_plan)
    report = stems.saved_report(output_plan)
    original = _original(job)
    if report is None and not placed:
        total = len(files)
        for index, result in enumerate(files):
            downloaded = output_plan.staging_dir / layout.downloads[index]
            if downloaded.exists():
                continue  # fetched by an earlier attempt

            def progress(done: int, size: int, index: int = index) -> None:
                context.set_live(job.id, f"downloading {index + 1}/{total}", done, size)

            context.client.download_result(
                result,
                downloaded,
                server=job.server,
                max_bytes=_download_cap(result, job),
                progress=progress,
            )
            context.feed.bump()
        context.set_live(job.id, CONFORMING, 0, 0)

        def conforming(done: int, total: int) -> None:
            context.set_live(job.id, CONFORMING, done, total)

        report = stems.process(
            output_plan,
            layout,
            files,
            source_name=Path(job.source_path).name,
            original=original,
            origin=_origin(job, algorithm),
            progress=conforming,
        )
    context.clear_live(job.id)
    manifest = _manifest(context, job, algorithm, original)
    if report is not None:
        manifest["conform"] = report
    written = outputs.finalize(output_plan, manifest, on_collision=collision)
    return [item.path.name for item in written]


def _original(job: JobRecord) -> Path | None:
    """The source file, if it still holds the job's audio (else its stems are conformed from
    what was recorded of it, without the checks against its samples)."""
    source = Path(job.source_path)
    try:
        return source if file_sha256(source) == job.content_sha256 else None
    except OSError:
        return None


def _origin(job: JobRecord, algorithm: str | None) -> str:
    model = algorithm or (f"sep_type {job.sep_type}" if job.sep_type is not None else "MVSEP")
    return f"mvsepd preset {job.preset_name}; MVSEP {model}"


def _move_original(folder: FolderConfig, source: Path, job: JobRecord) -> None:
    if folder.move_to is None:
        return
    try:
        moved = outputs.move_original(source, folder.move_to)
        log.info("original_moved", job=job.id, to=str(moved))
    except errors.OutputError as error:
        # The stems are in place; a failed tidy-up must not fail the job.
        log.warning("original_not_moved", job=job.id, error=str(error))


def _subdir(source: Path, folder: Path) -> str:
    try:
        relative = source.parent.relative_to(folder)
    except ValueError:
        return ""
    return relative.as_posix() if str(relative) != "." else ""


def _download_cap(result: ResultFile, job: JobRecord) -> int:
    approximate = result.approximate_size
    if approximate is not None:
        # MVSEP rounds sizes ("5.84 MB"); allow for that, refuse anything far larger.
        return max(_MIN_DOWNLOAD_CAP, int(approximate * 1.5) + 1024 * 1024)
    # No size given: a stem can be larger than an mp3 source, but not without bound.
    return max(_MIN_DOWNLOAD_CAP, 32 * (job.source_size or 0))


def _manifest(
    context: Context, job: JobRecord, algorithm: str | None, original: Path | None
) -> dict[str, Any]:
    source = Path(job.source_path)
    return {
        "mvsepd_version": __version__,
        "job_id": job.id,
        "source": {
            "path": str(source),
            "sha256": job.content_sha256,
            "unchanged": original is not None,
            "size": job.source_size,
            "duration_seconds": job.duration_seconds,
        },
        "preset": {
            "name": job.preset_name,
            "sep_type": job.sep_type,
            "algorithm": algorithm,
            "options": dict(job.options),
            "output_format": OutputFormat(job.output_format or 0).config_name,
        },
        "mvsep": {
            "hash": job.separation_hash,
            "server": job.server,
            "credits_estimate": job.credits_estimate,
        },
        "timings": {
            "discovered": _iso(job.created_at),
            "upload_started": _iso(job.upload_started_at),
            "finished": _iso(context.clock()),
        },
    }


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, tz=datetime.timezone.utc).isoformat()


def _download_failed(context: Context, job: JobRecord, error: BaseException) -> JobRecord:
    now = context.clock()
    if isinstance(error, errors.NotFoundError):
        created = job.upload_started_at or job.created_at
        expired = now - created >= RESULT_LIFETIME_SECONDS
        reason = (
            "MVSEP deleted the results before they were downloaded (kept about 72 hours)"
            if expired
            else "MVSEP no longer has the results"
        )
        return context.fail(job, f"{reason}; `mvsepd retry` submits the file again")
    verdict = lifecycle.judge_error(error)
    if verdict.outcome is Outcome.FAIL:
        return context.fail(job, verdict.reason)
    return context.retry_later(
        job,
        resume=JobState.DOWNLOADING,
        words=f"downloading stems failed ({verdict.reason})",
        event="download_retry",
    )
