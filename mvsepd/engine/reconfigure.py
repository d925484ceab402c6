"""A new configuration applied to a running engine, without a restart.

The folders are handed to the intake (``Intake.reconfigure``: new ones watched, removed ones let
go, changed ones watched again with their new settings), the presets and chains are resolved
again, and the limits and account settings are read from the new configuration from the next
step on. Nothing in flight is disturbed: a job MVSEP has (or is receiving) goes on as it was
sent. A job not sent yet (no upload of it ever began) whose preset or chain step changed, or
whose folder no longer asks for it, is replaced: removed (it cost nothing; ``store.
discard_unsent``) and its files taken again with the configuration as it is now, so the new
job is an ordinary one with its own identity, and a preset changed back later finds no stale
job in its way. A job that failed on its settings before it was sent is taken again the same
way, so fixing the configuration is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

import structlog

from mvsepd.config.model import Config
from mvsepd.domain.chains import ChainPlan
from mvsepd.domain.presets import ResolvedPreset
from mvsepd.engine.context import Context, FolderRuntime
from mvsepd.intake import FolderChanges, Intake, WatchSpec
from mvsepd.models import DeliveryRecord, FailureKind, JobState

log = structlog.get_logger("mvsepd.engine")

#: States of a job that may not have reached MVSEP; ``store.discard_unsent`` removes one only
#: when no upload of it ever began (a retry wait after a failed probe, a failure the settings
#: caused before sending).
UNSENT = (
    JobState.DISCOVERED,
    JobState.STABLE,
    JobState.WAITING_SLOT,
    JobState.HELD,
    JobState.RETRY_WAIT,
    JobState.FAILED,
)


@dataclass(frozen=True)
class Applied:
    """What applying a configuration changed."""

    folders: FolderChanges
    #: Jobs not sent yet that were removed, their files taken again (their preset or folder
    #: changed).
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
    presets, chains = context.resolved(config)
    added_at = context.clock()
    with context.lock:
        for path in folders:
            if path not in context.folders:
                context.folders_added_at[path] = added_at
        # Swapped together: a worker ingesting a file meanwhile sees the old configuration or
        # the new one, never a folder of the new one with the old presets. Replaced whole:
        # readers on other threads see the old dict or the new one.
        context.config = config
        context.folders = dict(folders)
        context.presets, context.chains = presets, chains
    changes = intake.reconfigure(specs)
    replaced = _replace_unsent(context, intake, before)
    context.feed.bump()
    return Applied(changes, replaced)


def _fingerprints(context: Context) -> dict[str, str]:
    """Every preset's fingerprint by name, and every chain step's as ``chain/step``."""
    with context.lock:
        presets, chains = dict(context.presets), dict(context.chains)
    found = {
        name: preset.fingerprint
        for name, preset in presets.items()
        if isinstance(preset, ResolvedPreset)
    }
    for name, plan in chains.items():
        if isinstance(plan, ChainPlan):
            for step in plan.steps:
                found[f"{name}/{step.id}"] = step.preset.fingerprint
    return found


def _replace_unsent(context: Context, intake: Intake, before: Mapping[str, str]) -> tuple[int, ...]:
    after = _fingerprints(context)
    store = context.store
    replaced: list[int] = []
    rescan: set[Path] = set()
    for job in store.jobs(list(UNSENT)):
        if job.parent_job_id is not None or not store.owns(job):
            continue  # a chain's later step follows its chain; another host's job is its own
        if job.state is JobState.FAILED and job.failure_kind is not FailureKind.SETTINGS:
            continue  # the file itself or MVSEP failed it: new settings do not change that
        deliveries = store.deliveries(job.id)
        why = next(
            (
                reason
                for delivery in deliveries
                if (reason := _why_replaced(context, delivery, before, after)) is not None
            ),
            None,
        )
        if why is None or store.discard_unsent(job.id, expected=UNSENT) is None:
            continue  # still what its folders ask for, or it moved on (a worker sends it)
        for delivery in deliveries:
            folder = Path(delivery.folder_path)
            # The file's record may name another job (the first preset of a fan-out) and so
            # outlive the discarded one: forgotten too, or the file would stay "seen".
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
    delivery: DeliveryRecord,
    before: Mapping[str, str],
    after: Mapping[str, str],
) -> str | None:
    """Why a delivery of an unsent job is no longer what its folder asks for, or None."""
    folder = context.folders.get(Path(delivery.folder_path))
    if folder is None:
        return f"its folder {delivery.folder_path} left the configuration"
    names = folder.config.preset_names
    if delivery.preset_name not in names:
        return f"its folder now asks for {', '.join(names)}"
    key = f"{delivery.chain}/{delivery.step}" if delivery.chain else delivery.preset_name
    old, new = before.get(key), after.get(key)
    if old != new:
        what = f"the chain {delivery.chain!r}" if delivery.chain else f"the preset {key!r}"
        return f"{what} changed"
    return None


def _relative(source_path: str, folder: Path) -> str | None:
    try:
        return PurePath(source_path).relative_to(folder).as_posix()
    except ValueError:
        return None
