"""A new configuration applied to a running engine, without a restart.

The folders are handed to the intake (``Intake.reconfigure``: new ones watched, removed ones let
go, changed ones watched again with their new settings), the presets and chains are resolved
again, and the limits and account settings are read from the new configuration from the next
step on. Nothing in flight is disturbed: a job MVSEP has (or is receiving) goes on as it was
sent. A job not sent yet whose preset changed, or whose folder no longer asks for it, is
replaced: cancelled (it cost nothing) and its file taken again with the configuration as it is
now, so the new preset's job is an ordinary job with its own identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

import structlog

from mvsepd.config.model import Config
from mvsepd.domain.presets import ResolvedPreset
from mvsepd.engine.context import Context, FolderRuntime
from mvsepd.errors import IllegalTransitionError, StoreError
from mvsepd.intake import FolderChanges, Intake, WatchSpec
from mvsepd.models import JobRecord, JobState

log = structlog.get_logger("mvsepd.engine")

#: States of a job that has not reached MVSEP (a retry of a sent one waits in ``stable`` again
#: only after ``mvsepd retry``, which decided to send it anew).
UNSENT = (JobState.DISCOVERED, JobState.STABLE, JobState.WAITING_SLOT, JobState.HELD)


@dataclass(frozen=True)
class Applied:
    """What applying a configuration changed."""

    folders: FolderChanges
    #: Jobs not sent yet that were replaced (their preset or folder changed).
    replaced_jobs: tuple[int, ...] = ()


def apply(
    context: Context,
    intake: Intake,
    config: Config,
    folders: Mapping[Path, FolderRuntime],
    specs: Sequence[WatchSpec],
) -> Applied:
    """Make ``config`` the engine's (see the module docstring)."""
    before = _fingerprints(context)
    with context.lock:
        context.config = config
        # Replaced whole: readers on other threads see the old dict or the new one.
        context.folders = dict(folders)
    context.resolve_presets()
    changes = intake.reconfigure(specs)
    replaced = _replace_unsent(context, intake, before)
    context.feed.bump()
    return Applied(changes, replaced)


def _fingerprints(context: Context) -> dict[str, str]:
    with context.lock:
        presets = dict(context.presets)
    return {
        name: preset.fingerprint
        for name, preset in presets.items()
        if isinstance(preset, ResolvedPreset)
    }


def _replace_unsent(context: Context, intake: Intake, before: Mapping[str, str]) -> tuple[int, ...]:
    after = _fingerprints(context)
    store = context.store
    replaced: list[int] = []
    rescan: set[Path] = set()
    for job in store.jobs(list(UNSENT)):
        if job.parent_job_id is not None or not store.owns(job):
            continue  # a chain's later step follows its chain; another host's job is its own
        why = _why_replaced(context, job, before, after)
        if why is None:
            continue
        words = f"not sent: {why}; the file is taken again as the configuration now says"
        try:
            store.transition(job.id, JobState.CANCELLED, expected=job.state, reason=words)
        except (IllegalTransitionError, StoreError):
            continue  # it moved on meanwhile (a worker is sending it): it goes on as it is
        store.fail_deliveries_of(job.id, words)
        for delivery in store.deliveries(job.id):
            folder = Path(delivery.folder_path)
            relative = _relative(delivery.source_path, folder)
            if relative is not None:
                store.forget_source(delivery.folder_path, relative)
                if folder in context.folders:
                    rescan.add(folder)
        replaced.append(job.id)
        log.info("job_replaced", job=job.id, file=job.source_name, reason=why)
    for folder in rescan:
        intake.rescan(folder, afresh=True)
    return tuple(replaced)


def _why_replaced(
    context: Context,
    job: JobRecord,
    before: Mapping[str, str],
    after: Mapping[str, str],
) -> str | None:
    """Why an unsent job is no longer what its folder asks for, or None when it still is."""
    folder = context.folders.get(Path(job.folder_path))
    if folder is None:
        return f"its folder {job.folder_path} left the configuration"
    names = folder.config.preset_names
    if job.preset_name not in names:
        return f"its folder now asks for {', '.join(names)}"
    old, new = before.get(job.preset_name), after.get(job.preset_name)
    if old is not None and new is not None and old != new:
        return f"the preset {job.preset_name!r} changed"
    return None


def _relative(source_path: str, folder: Path) -> str | None:
    try:
        return PurePath(source_path).relative_to(folder).as_posix()
    except ValueError:
        return None
