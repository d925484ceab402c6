"""Placing a finished job's results for one delivery: stage, conform, finalize, feed on.

A job's downloads (``mvsep-NN.ext`` in its staging folder) serve every delivery; ``fulfil``
places one of them (``placing`` made its plan): conform against its input, ``outputs.finalize``
(stems complete or absent, the manifest last), then a chain step feeds the next steps
(``chainrun``) and the delivery is marked done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from mvsepd import outputs
from mvsepd.domain.hashing import file_sha256
from mvsepd.engine import chainrun, converting, placing, stems
from mvsepd.engine.context import Context
from mvsepd.models import DeliveryRecord, DeliveryState, JobRecord, ResultFile

log = structlog.get_logger("mvsepd.engine")


def fulfil(
    context: Context,
    job: JobRecord,
    placement: placing.Placement,
    files: Sequence[ResultFile],
    downloads: Path,
    algorithm: str | None,
    work: converting.StemWork | None = None,
) -> DeliveryRecord:
    """Place one delivery from the job's downloads; feed the next chain steps; mark it done.
    ``work``: its stems, converted as they were downloaded (else they are converted here)."""
    plan, delivery = placement.plan, placement.delivery
    earlier = outputs.written_manifest(plan)
    if (
        earlier is not None
        and earlier.get("mvsep", {}).get("hash") == job.separation_hash
        and earlier.get("attempt", 1) == job.retries + 1
    ):
        # This attempt placed every stem and wrote the manifest, then stopped before the
        # delivery was marked done: mark it now instead of placing the stems again.
        if plan.staging_dir != downloads:
            outputs.discard(plan.staging_dir)
        names = [str(item.get("name")) for item in earlier.get("outputs", [])]
        log.info("stems_found_in_place", job=job.id, note="placed by an interrupted attempt")
    else:
        names = _stage_and_finalize(
            context, job, placement, files, downloads, algorithm, earlier=earlier, work=work
        )
    if placement.step is not None and placement.chain is not None:
        chainrun.feed_next_steps(context, job, placement, files, downloads)
    done = context.store.finish_delivery(
        delivery.id, DeliveryState.DONE, output_dir=str(plan.manifest.parent)
    )
    if plan.staging_dir != downloads:
        outputs.discard(plan.staging_dir)
    if placement.chain is not None:
        chainrun.finish_chain_run(context, done, placement.chain, finishing=job.id)
    context.feed.bump()
    log.info(
        "stems_ready",
        job=job.id,
        file=Path(delivery.source_path).name,
        folder=str(plan.manifest.parent),
        step=delivery.step or None,
        stems=names,
    )
    return done


def _stage_and_finalize(
    context: Context,
    job: JobRecord,
    placement: placing.Placement,
    files: Sequence[ResultFile],
    downloads: Path,
    algorithm: str | None,
    *,
    earlier: dict[str, Any] | None,
    work: converting.StemWork | None,
) -> list[str]:
    """Conform and place one delivery's stems; an ``earlier`` attempt's manifest (a retried
    job's) names the outputs this job owns already, which are replaced, not numbered."""
    plan = placement.plan
    outputs.prepare(plan)
    placed = outputs.already_placed(plan)
    report = stems.saved_report(plan)
    original = work.original if work is not None else original_of(context, job)
    digests: dict[Path, str] = {}
    if work is not None and report is None and not placed:
        report = work.finish()
        digests = work.digests
    elif report is None and not placed:
        context.set_live(job.id, CONFORMING, 0, 0)

        def conforming(done: int, total: int) -> None:
            context.set_live(job.id, CONFORMING, done, total)

        report = work_for(
            job, placement, files, downloads, algorithm, original, progress=conforming
        ).all_at_hand()
    context.clear_live(job.id)
    manifest = placing.manifest_of(context, placement, job, algorithm, original)
    if report is not None:
        manifest["conform"] = report
    owned = _owned_outputs(earlier)
    finals = {target.final for target in plan.targets}
    kept = [entry for path, entry in owned.items() if path not in finals and path.is_file()]
    if kept:
        # Outputs of an earlier attempt this one does not make again (a preset changed since):
        # left in place, and listed, as the job's.
        manifest["earlier_outputs"] = kept
    # The job's own staging folder holds its downloads: a chain step feeds the next step from
    # them after placing, and the job's other deliveries are placed from them; it goes once
    # all of that is done (``fetch``, ``late``).
    written = outputs.finalize(
        plan,
        manifest,
        on_collision=placement.collision,
        keep_staging=plan.staging_dir == downloads,
        owned=frozenset(owned),
        digests=digests,
    )
    return [item.path.name for item in written]


def work_for(
    job: JobRecord,
    placement: placing.Placement,
    files: Sequence[ResultFile],
    downloads: Path,
    algorithm: str | None,
    original: Path | None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> converting.StemWork:
    """The conversion of one delivery's stems from the job's downloads."""
    return converting.StemWork(
        placement.plan,
        placement.layout,
        files,
        downloads=downloads,
        source_name=Path(placement.delivery.source_path).name,
        original=original,
        origin=placing.origin_words(job, placement.delivery, algorithm),
        progress=progress,
    )


def _owned_outputs(earlier: dict[str, Any] | None) -> dict[Path, dict[str, Any]]:
    """The outputs an earlier attempt's manifest lists, by path, that are still as it wrote
    them: a stem someone edited and saved since is theirs now, and is never replaced."""
    if earlier is None:
        return {}
    entries = [*earlier.get("outputs", []), *earlier.get("earlier_outputs", [])]
    owned: dict[Path, dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or "path" not in entry:
            continue
        path = Path(str(entry["path"]))
        try:
            unchanged = path.is_file() and file_sha256(path) == entry.get("sha256")
        except OSError:
            unchanged = False
        if unchanged:
            owned[path] = entry
    return owned


#: The live phase while stems are checked and brought to their source's format.
CONFORMING = "conforming"


def original_of(context: Context, job: JobRecord) -> Path | None:
    """What the stems are compared with: the job's input (a chain step's stem, else the
    dropped file) while it still holds the job's audio."""
    source = Path(job.source_path)
    if job.input_kind != "file":
        return None  # a link, a prompt: nothing here to compare with; matchering changes it
    try:
        return source if file_sha256(source) == job.content_sha256 else None
    except OSError:
        return None
