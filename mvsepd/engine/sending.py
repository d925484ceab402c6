"""Choosing the bytes an upload sends: the file, or its samples as lossless FLAC.

The job keeps its identity (the source's SHA-256); only the wire changes. The choice and the
name MVSEP sees are stored before the create, so a lost answer is looked up in the history
under that name; the bytes sent are stored with it, or, for a FLAC made as it is sent
(streamed, the default: the upload starts at once), as soon as the create answered
(``record_sent``), so the manifest can say what went out. A FLAC goes with its length
(encoded into a temporary file first) where that length decides something: a file near or
over the account's limit (refused here, before a byte is sent, when even the FLAC is too
large), and a server that refused a streamed upload once (``needs_length``: remembered in the
job store, per server).
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


#: A streamed FLAC is at most a few per mille larger than its source (white noise); a source
#: this close to the account's limit is encoded first, so its real size decides.
_STREAM_MARGIN = 0.99
#: The job store flag of a server that refused a streamed upload (the server's URL follows).
NEEDS_LENGTH_FLAG = "uploads_need_length:"


@contextlib.contextmanager
def prepared(
    context: Context, job: JobRecord, path: Path, *, streamed: bool = True
) -> Iterator[UploadPlan]:
    """Yield what to send for a file job; remove a temporary FLAC when the upload is over.
    ``streamed=False``: a FLAC goes with its length whatever the server.

    Raise InputError when it cannot fit the account's limit (naming both sizes) or the source
    cannot be read, PlanUnknownError when only the plan (not known yet) can tell.
    """
    _check_length(context, job, path)
    account = context.config.account
    limit = context.account.max_upload_bytes(account.max_upload_mb, account.plans)
    plan = _plan(context, job, path, streamed=streamed and _may_stream(context, path, limit))
    try:
        _check_size(context, path, plan, limit)
        context.store.update_progress(
            job.id,
            upload_json=json.dumps(plan.as_record()),
            timings_json=job.with_timings(upload_began=context.clock()),
        )
        log.info(
            "upload_started",
            job=job.id,
            file=path.name,
            bytes=plan.size,
            source_bytes=plan.source_size,
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


def _check_size(context: Context, path: Path, plan: UploadPlan, limit: int | None) -> None:
    """Refuse (InputError) a file larger as sent than the account takes (``limit``), naming
    both sizes; wait (PlanUnknownError) while only the plan, not known yet, can tell. A
    streamed FLAC's size is not known before it is sent: its source's settles it (see
    ``_may_stream``)."""
    account = context.config.account
    size = plan.size if plan.size is not None else plan.source_size
    if limit is not None and size > limit:
        setting = (
            "account.max_upload_mb"
            if account.max_upload_mb != "auto"
            else f"the plan's: account.plans.{'free' if context.account.is_free() else 'premium'}"
        )
        raise errors.InputError(_too_large(path.name, plan, limit, setting), field="audio")
    free = account.plans.limits(premium=False).max_bytes
    if limit is None and account.max_upload_mb == "auto" and size > free:
        # Too large for the free plan: sent now, it would be refused there; wait for the
        # account check to say whether the plan takes it.
        raise errors.PlanUnknownError(
            f"{path.name} is {_mb(size)} as sent, over the free plan's {_mb(free)}; "
            "waiting for MVSEP to say which plan the account has"
        )


def _may_stream(context: Context, path: Path, limit: int | None) -> bool:
    """True when a FLAC may go without its length: the server takes such uploads, and the
    source's own size settles every limit (see the module docstring)."""
    if needs_length(context):
        return False
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if limit is not None and size > limit * _STREAM_MARGIN:
        return False
    account = context.config.account
    unknown_plan = context.account.user is None and account.max_upload_mb == "auto"
    free = account.plans.limits(premium=False).max_bytes
    return not (unknown_plan and size > free * _STREAM_MARGIN)


def needs_length(context: Context) -> bool:
    """True when this server refused a streamed upload once (see ``remember_needs_length``)."""
    return context.store.flag(NEEDS_LENGTH_FLAG + context.client.server) is not None


def remember_needs_length(context: Context, why: str) -> None:
    """This server refused a streamed upload: every later one goes with its length."""
    context.store.set_flag(NEEDS_LENGTH_FLAG + context.client.server, why)
    log.warning(
        "uploads_sent_with_length",
        server=context.client.server,
        reason=why,
        note="the server refused an upload sent without its length; from now on every FLAC "
        "is encoded before it is sent (the upload starts a little later)",
    )


def sent_record(plan: UploadPlan) -> str:
    """What went out, for the job store once the create answered (a streamed FLAC's bytes are
    known only then)."""
    return json.dumps(plan.as_record())


def _plan(context: Context, job: JobRecord, path: Path, *, streamed: bool) -> UploadPlan:
    folder = context.folders.get(Path(job.folder_path))
    settings = context.config.folder_settings(folder.config) if folder else context.config.defaults
    progress = context.live_reporter(job.id, "uploading" if streamed else "compressing")
    try:
        return audio.plan_upload(
            path,
            encoding=settings.upload_encoding,
            float_as=settings.upload_float_as,
            work_dir=context.upload_dir,
            stem=f"job-{job.id}",
            progress=progress,
            streamed=streamed,
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
        if not streamed:
            context.clear_live(job.id)


def _readable(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True


def _too_large(name: str, plan: UploadPlan, limit: int, setting: str) -> str:
    sent = plan.size if plan.size is not None else plan.source_size
    if plan.encoding is audio.UploadEncoding.FLAC:
        size = f"{_mb(sent)} even as lossless FLAC ({_mb(plan.source_size)} as it is)"
    else:
        size = f"{_mb(sent)}"
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
