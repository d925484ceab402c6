"""Choosing the bytes an upload sends: the file, or its samples as lossless FLAC.

The job keeps its identity (the source's SHA-256); only the wire changes. The choice, the
name MVSEP sees and the bytes sent are stored before the create, so a lost answer is looked up
in the history under that name and the manifest can say what went out. A file still over the
account's limit after compression is refused here, before a byte is sent.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from mvsepd import audio, errors
from mvsepd.domain.plans import too_long_or_large
from mvsepd.engine.context import Context
from mvsepd.models import JobRecord

if TYPE_CHECKING:
    from mvsepd.audio import UploadPlan

log = structlog.get_logger("mvsepd.engine")


@contextlib.contextmanager
def prepared(context: Context, job: JobRecord, path: Path) -> Iterator[UploadPlan]:
    """Yield what to send for a file job; remove a temporary FLAC when the upload is over.

    Raise InputError when it cannot fit the account's limit (naming both sizes) or the source
    cannot be read, PlanUnknownError when only the plan (not known yet) can tell.
    """
    _check_length(context, job, path)
    plan = _plan(context, job, path)
    try:
        _check_size(context, path, plan)
        context.store.update_progress(job.id, upload_json=json.dumps(plan.as_record()))
        log.info(
            "upload_started",
            job=job.id,
            file=path.name,
            bytes=plan.size,
            encoding=plan.encoding.value,
        )
        if plan.note:
            log.info("upload_as_is", job=job.id, file=path.name, note=plan.note)
        yield plan
    finally:
        if plan.temporary:
            plan.path.unlink(missing_ok=True)


def _check_length(context: Context, job: JobRecord, path: Path) -> None:
    """Refuse (InputError) a file longer than the account's plan takes, before anything is
    encoded or sent; wait (PlanUnknownError) while the plan is not known and the free plan
    would refuse it."""
    plans = context.config.account.plans
    plan = context.account.plan(plans)
    if plan is None:
        free = plans.limits(premium=False)
        if too_long_or_large(path.name, seconds=job.duration_seconds, size=None, plan=free):
            raise errors.PlanUnknownError(
                f"{path.name} is longer than the free plan's {free.max_minutes:g} min; waiting "
                "for MVSEP to say which plan the account has"
            )
        return
    other = None if plan.name == "premium" else plans.limits(premium=True)
    problems = too_long_or_large(
        path.name, seconds=job.duration_seconds, size=None, plan=plan, other=other
    )
    if problems:
        raise errors.InputError("; ".join(problems), field="audio")


def _check_size(context: Context, path: Path, plan: UploadPlan) -> None:
    """Refuse (InputError) a file larger as sent than the account takes, naming both sizes;
    wait (PlanUnknownError) while only the plan, not known yet, can tell."""
    account = context.config.account
    limit = context.account.max_upload_bytes(account.max_upload_mb, account.plans)
    if limit is not None and plan.size > limit:
        setting = (
            "account.max_upload_mb"
            if account.max_upload_mb != "auto"
            else f"the plan's: account.plans.{'free' if context.account.is_free() else 'premium'}"
        )
        raise errors.InputError(_too_large(path.name, plan, limit, setting), field="audio")
    free = account.plans.limits(premium=False).max_bytes
    if limit is None and account.max_upload_mb == "auto" and plan.size > free:
        # Too large for the free plan: sent now, it would be refused there; wait for the
        # account check to say whether the plan takes it.
        raise errors.PlanUnknownError(
            f"{path.name} is {_mb(plan.size)} as sent, over the free plan's {_mb(free)}; "
            "waiting for MVSEP to say which plan the account has"
        )


def _plan(context: Context, job: JobRecord, path: Path) -> UploadPlan:
    folder = context.folders.get(Path(job.folder_path))
    settings = context.config.folder_settings(folder.config) if folder else context.config.defaults
    progress = context.live_reporter(job.id, "compressing")
    try:
        return audio.plan_upload(
            path,
            encoding=settings.upload_encoding,
            float_as=settings.upload_float_as,
            work_dir=context.upload_dir,
            stem=f"job-{job.id}",
            progress=progress,
        )
    except (OSError, errors.AudioError) as error:
        words = error.strerror if isinstance(error, OSError) else None
        if not path.exists() or not _readable(path):
            raise errors.InputError(
                f"{path.name} cannot be read ({words or error})", field="audio"
            ) from None
        # A full or unwritable cache folder, or a file libsndfile reads only part of, must not
        # stop the upload: the original is sent, as it would be without compression.
        size = path.stat().st_size
        note = f"sent as it is; no FLAC could be made ({words or error})"
        log.warning("upload_compression_failed", job=job.id, file=path.name, error=note)
        return audio.UploadPlan(
            path, path.name, audio.UploadEncoding.ORIGINAL, size, size, note, note=note
        )
    finally:
        context.clear_live(job.id)


def _readable(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True


def _too_large(name: str, plan: UploadPlan, limit: int, setting: str) -> str:
    if plan.encoding is audio.UploadEncoding.FLAC:
        size = f"{_mb(plan.size)} even as lossless FLAC ({_mb(plan.source_size)} as it is)"
    else:
        size = f"{_mb(plan.size)}"
    return (
        f"{name} is {size}; the account takes "
        f"files up to {_mb(limit)} ({setting}). Shorten or split it, or export "
        "16/24-bit so it can be sent as FLAC"
    )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def sweep(context: Context) -> None:
    """Remove what a killed daemon was encoding: every upload encodes afresh, and the folder
    holds nothing else."""
    try:
        entries = list(context.upload_dir.iterdir())
    except OSError:
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            entry.unlink()
            log.info("upload_encoding_removed", file=entry.name, note="left by a stopped daemon")
