"""One delivery's plan: where a job's results go for it, named how, kept which, conformed to
what, and the manifest that describes them.

A job's results may go to several places (its deliveries): the drop that made it, the same
input dropped elsewhere, a chain's step. ``place_for`` makes one delivery's plan from its
folder's template and stem settings, its chain step's ``keep`` and the format of the file that
was dropped (a chain step's stems fit the chain's source, not the stem the step was fed).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from mvsepd import __version__, outputs
from mvsepd.domain import naming
from mvsepd.domain.chains import ChainPlan, ChainStep, same_label
from mvsepd.domain.presets import PresetProblem
from mvsepd.engine import stems
from mvsepd.engine.context import Context
from mvsepd.models import Algorithm, DeliveryRecord, JobRecord, OutputFormat, ResultFile

log = structlog.get_logger("mvsepd.engine")


@dataclass(frozen=True)
class Placement:
    """One delivery's plan: where its files go and how they are made."""

    delivery: DeliveryRecord
    plan: outputs.OutputPlan
    layout: stems.ResultLayout
    collision: outputs.Collision
    step: ChainStep | None
    chain: ChainPlan | None
    #: The format the delivery's preset asks MVSEP for (the job may have been fetched in
    #: another holding the same samples: ``presets.fetched_format``).
    asked_format: OutputFormat = OutputFormat.WAV16


def place_for(
    context: Context,
    job: JobRecord,
    delivery: DeliveryRecord,
    files: Sequence[ResultFile],
    *,
    primary: bool,
) -> Placement:
    """The plan of ``delivery`` (``primary``: the job's first, staged in the job's folder)."""
    folder = context.folder_for(delivery.folder_path)
    source = Path(delivery.source_path)
    root = context.output_root_of(delivery.folder_path)
    if folder is not None:
        template, collision = folder.config.output, folder.config.on_collision
        settings = context.config.folder_settings(folder.config)
        subdir = subdir_of(source, folder.path)
    else:
        # The folder left the configuration while the job ran: use the default layout.
        template, collision, subdir = naming.DEFAULT_OUTPUT_TEMPLATE, "unique", ""
        settings = context.config.defaults
    chain, step = _chain_step(context, delivery)
    fetched = OutputFormat(job.output_format or 0)
    asked = _asked_format(context, delivery, step, fetched)
    rewrap = fetched is OutputFormat.FLAC16 and asked is OutputFormat.WAV16
    layout = stems.lay_out(
        files,
        fetched.extension,
        settings,
        functools.partial(_root_source_audio, context, job, delivery),
        keeps=step.keeps if step is not None else (lambda label: True),
        name_of=naming.stem_namer(_algorithm(context, job)),
        rewrap_as=asked.extension if rewrap else None,
    )
    values = {
        "track": track(source),
        "preset": delivery.preset_name,
        "subdir": subdir,
        "step": delivery.step,
    }
    staging = (
        outputs.staging_dir(root, job.id, job.lease_epoch)
        if primary
        else outputs.delivery_staging_dir(root, delivery.id)
    )
    plan = outputs.plan(
        job_id=job.id,
        root=root,
        template=template,
        values=values,
        stems=layout.requests,
        staging=staging,
        manifest_name=(
            f"manifest - {delivery.step}.json" if delivery.step else outputs.MANIFEST_NAME
        ),
    )
    return Placement(delivery, plan, layout, collision, step, chain, asked)


def _asked_format(
    context: Context, delivery: DeliveryRecord, step: ChainStep | None, fetched: OutputFormat
) -> OutputFormat:
    """The format the delivery's preset (or chain step) asks for; what was fetched when the
    preset is gone or broken."""
    if step is not None:
        return step.preset.output_format
    preset = context.preset(delivery.preset_name)
    return fetched if isinstance(preset, PresetProblem) else preset.output_format


def _algorithm(context: Context, job: JobRecord) -> Algorithm | None:
    """The job's model in the catalog (what its stems are), if the catalog is at hand."""
    for algorithm in context.catalog.algorithms or ():
        if algorithm.render_id == job.sep_type:
            return algorithm
    return None


def _chain_step(
    context: Context, delivery: DeliveryRecord
) -> tuple[ChainPlan | None, ChainStep | None]:
    if not delivery.chain:
        return None, None
    chain = context.chain(delivery.chain)
    if not isinstance(chain, ChainPlan):
        return None, None
    step = next((s for s in chain.steps if s.id == delivery.step), None)
    return chain, step


def _root_source_audio(context: Context, job: JobRecord, delivery: DeliveryRecord) -> Any:
    """The format stems are written in: the dropped file's (a chain step's too), as recorded
    when its job was probed, else read now."""
    if delivery.step and job.parent_job_id is not None:
        root = root_job(context, job)
        return stems.source_audio(root)
    if job.input_kind in ("file", "matchering"):
        return stems.source_audio(job)
    return None


def root_job(context: Context, job: JobRecord) -> JobRecord:
    current = job
    for _ in range(64):  # a chain is short; the bound keeps a corrupt store from looping
        if current.parent_job_id is None:
            return current
        current = context.store.get(current.parent_job_id)
    return current


def fed_by(placement: Placement, files: Sequence[ResultFile]) -> set[int]:
    """The results a chain step's delivery feeds to the next steps."""
    if placement.step is None:
        return set()
    labels = [label for label, _ in placement.step.feeds]
    return {
        index
        for index, result in enumerate(files)
        if any(same_label(result.type or "", label) for label in labels)
    }


def manifest_of(
    context: Context,
    placement: Placement,
    job: JobRecord,
    algorithm: str | None,
    original: Path | None,
) -> dict[str, Any]:
    """A delivery's manifest (its outputs are added by ``outputs.finalize``)."""
    delivery = placement.delivery
    fetched = OutputFormat(job.output_format or 0)
    document: dict[str, Any] = {
        "mvsepd_version": __version__,
        "job_id": job.id,
        # Which attempt of the job wrote this (1, then 2 after a `mvsepd retry`...): an
        # earlier attempt's manifest is not taken for this one's.
        "attempt": job.retries + 1,
        "source": {
            "path": delivery.source_path,
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
            "output_format": placement.asked_format.config_name,
        },
        "mvsep": {
            "hash": job.separation_hash,
            "server": job.server,
            "credits_estimate": job.credits_estimate,
            # What MVSEP was asked for: where it differs from the preset, why.
            "output_format": fetched.config_name,
        },
        "timings": {
            "discovered": iso(job.created_at),
            "upload_started": iso(job.upload_started_at),
            "finished": iso(context.clock()),
        },
    }
    if (fetched, placement.asked_format) == (OutputFormat.FLAC16, OutputFormat.WAV16):
        document["mvsep"]["fetched_as"] = (
            f"{fetched.config_name} in place of {placement.asked_format.config_name}: the same "
            "samples in about half the bytes, fetched for a folder that conforms its stems"
        )
    if job.input_kind != "file":
        document["input"] = {"kind": job.input_kind, **job.input}
    if job.upload:
        # What went over the wire: the original, or its samples as lossless FLAC.
        document["upload"] = dict(job.upload)
    if delivery.chain:
        document["chain"] = {
            "name": delivery.chain,
            "step": delivery.step,
            "input": job.source_path if job.parent_job_id else delivery.source_path,
            "parent_job_id": job.parent_job_id,
            "from_stem": job.from_stem,
        }
    if delivery.id != _first_delivery_id(context, job):
        document["delivered_from_job"] = job.id
    return document


def _first_delivery_id(context: Context, job: JobRecord) -> int | None:
    found = context.store.deliveries(job.id)
    return found[0].id if found else None


def origin_words(job: JobRecord, delivery: DeliveryRecord, algorithm: str | None) -> str:
    """Which preset and model made a stem, for its Broadcast WAV description."""
    model = algorithm or (f"sep_type {job.sep_type}" if job.sep_type is not None else "MVSEP")
    step = f" step {delivery.step}" if delivery.step else ""
    return f"mvsepd preset {delivery.preset_name}{step}; MVSEP {model}"


def track(source: Path) -> str:
    name = source.name
    if name.casefold().endswith(".mvsep.yaml"):
        return name[: -len(".mvsep.yaml")]
    return source.stem


def subdir_of(source: Path, folder: Path) -> str:
    try:
        relative = source.parent.relative_to(folder)
    except ValueError:
        return ""
    return relative.as_posix() if str(relative) != "." else ""


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, tz=datetime.timezone.utc).isoformat()
