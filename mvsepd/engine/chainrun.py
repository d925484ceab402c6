"""Chains between steps: the stems that feed the next steps, and the end of a chain run.

When a step's delivery is placed, each stem a later step takes is copied into the work folder
under its SHA-256 (the next step's identity, with its fingerprint: a step re-run after a crash
finds its job; the same stem fed twice is one job) and the next step's job is found or made,
with its parent and the stem it came from. Once every step of a run is placed, the run's
``manifest.json`` lists each step with its MVSEP hash, credits and lineage, and the work folder
keeps no stem that no unfinished job needs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from mvsepd import __version__, errors, outputs
from mvsepd.domain.chains import ChainPlan, same_label
from mvsepd.domain.hashing import file_sha256
from mvsepd.engine import placing
from mvsepd.engine.context import Context
from mvsepd.models import DeliveryRecord, DeliveryState, JobRecord, JobState, ResultFile
from mvsepd.store import DeliveryKeys

log = structlog.get_logger("mvsepd.engine")


def feed_next_steps(
    context: Context,
    job: JobRecord,
    placement: placing.Placement,
    files: Sequence[ResultFile],
    downloads: Path,
) -> None:
    """Each stem a later step takes becomes that step's input: copied into the work folder
    under its SHA-256 (the step's identity), then the step's job is found or made."""
    assert placement.step is not None and placement.chain is not None
    delivery = placement.delivery
    for label, child_id in placement.step.feeds:
        index = next(
            (i for i, result in enumerate(files) if same_label(result.type or "", label)), None
        )
        if index is None:
            made = ", ".join(result.type or "?" for result in files)
            raise errors.OutputError(
                f"chain {placement.chain.name!r}: step {placement.step.id!r} should feed "
                f"{child_id!r} its {label!r} stem, but MVSEP made: {made}"
            )
        intermediate = _keep_intermediate(context, downloads / placement.layout.downloads[index])
        child = placement.chain.step(child_id)
        preset = child.preset
        content = intermediate.stem
        keys = DeliveryKeys(
            delivery.folder_path,
            delivery.source_path,
            placement.chain.name,
            placement.chain.name,
            child_id,
            delivery.id,
        )
        job_input: dict[str, Any] = {
            "chain": placement.chain.name,
            "step": child_id,
            "root_path": delivery.source_path,
            "from": f"{placement.step.id}/{label}",
        }
        if job.duration_seconds is not None:
            job_input["root_duration"] = job.duration_seconds
        child_job, created = context.store.find_or_create(
            content_sha256=content,
            preset_fingerprint=preset.fingerprint,
            preset_name=placement.chain.name,
            folder_path=delivery.folder_path,
            source_path=str(intermediate),
            source_size=intermediate.stat().st_size,
            sep_type=preset.sep_type,
            options=dict(preset.options),
            output_format=int(context.fetched_format(preset.output_format, delivery.folder_path)),
            input_json=json.dumps(job_input, ensure_ascii=False),
            parent_job_id=job.id,
            from_stem=label,
            delivery=keys,
        )
        if not created:
            context.store.add_delivery(child_job.id, keys)
        log.info(
            "chain_step_ready" if created else "chain_step_known",
            job=child_job.id,
            chain=placement.chain.name,
            step=child_id,
            from_job=job.id,
            stem=label,
        )


def _keep_intermediate(context: Context, download: Path) -> Path:
    """Copy a feeding stem into the work folder as ``<sha256>.<ext>`` (once per content)."""
    digest = file_sha256(download)
    context.work_dir.mkdir(parents=True, exist_ok=True)
    target = context.work_dir / f"{digest}{download.suffix}"
    if not target.exists():
        temporary = target.with_name(f".{target.name}.part")
        shutil.copyfile(download, temporary)
        os.replace(temporary, target)
    return target


def finish_chain_run(
    context: Context, delivery: DeliveryRecord, chain: ChainPlan, *, finishing: int
) -> None:
    """Once every step of a chain run is placed: its manifest (each step with its MVSEP hash,
    credits and lineage), and the work folder's stems no unfinished job needs any more."""
    run = [
        d
        for d in context.store.deliveries(
            folder_path=delivery.folder_path, source_path=delivery.source_path, chain=chain.name
        )
    ]
    by_step = {d.step: d for d in run}
    if any(by_step.get(step.id) is None for step in chain.steps):
        return
    if any(d.state is not DeliveryState.DONE for d in by_step.values()):
        return
    steps: list[dict[str, Any]] = []
    for step in chain.steps:
        step_delivery = by_step[step.id]
        step_job = context.store.get(step_delivery.job_id)
        steps.append(
            {
                "step": step.id,
                "job_id": step_job.id,
                "sep_type": step_job.sep_type,
                "mvsep_hash": step_job.separation_hash,
                "credits_estimate": step_job.credits_estimate,
                "from": "/".join(step.parent) if step.parent else "the dropped file",
                "input_sha256": step_job.content_sha256,
                "parent_job_id": step_job.parent_job_id,
                "output_dir": step_delivery.output_dir,
                "manifest": f"manifest - {step.id}.json",
            }
        )
    directory = Path(by_step[chain.steps[0].id].output_dir or ".")
    document = {
        "mvsepd_version": __version__,
        "chain": chain.name,
        "source": {"path": delivery.source_path},
        "steps": steps,
        "credits_estimate": sum(int(s["credits_estimate"] or 0) for s in steps),
        "finished": placing.iso(context.clock()),
    }
    try:
        outputs.write_json(directory / outputs.MANIFEST_NAME, document)
    except OSError as error:
        log.warning("chain_manifest_unwritable", folder=str(directory), error=str(error))
    sweep_work_dir(context, finishing=finishing)
    log.info("chain_done", chain=chain.name, file=Path(delivery.source_path).name, steps=len(steps))


#: A chain step that failed (or was cancelled, or left unpublished) keeps its input this long
#: after it ended, for ``mvsepd retry``.
RETRY_INPUT_SECONDS = 7 * 24 * 3600.0


def sweep_work_dir(context: Context, *, finishing: int | None = None) -> None:
    """Remove feeding stems no job needs: the inputs of steps that are done, and of steps
    that ended otherwise more than ``RETRY_INPUT_SECONDS`` ago (``finishing``: a job placing
    its last delivery now, done once it returns)."""
    try:
        entries = list(context.work_dir.iterdir())
    except OSError:
        return
    now = context.clock()

    def needs_input(job: JobRecord) -> bool:
        if job.parent_job_id is None or job.id == finishing or job.state is JobState.DONE:
            return False
        if not job.state.terminal:
            return True
        ended = job.finished_at if job.finished_at is not None else job.updated_at
        return now - ended < RETRY_INPUT_SECONDS

    needed = {Path(job.source_path).name for job in context.store.jobs() if needs_input(job)}
    for entry in entries:
        if entry.name not in needed and not entry.name.startswith("."):
            entry.unlink(missing_ok=True)
