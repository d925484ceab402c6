"""Deliveries that arrive after their job is done: the same audio dropped again later, a
chain that reuses a finished job.

``late`` places one from the first result while it is on disk (a plain delivery with the same
stem settings: its files are copied under this place's names), else downloads MVSEP's files
again while MVSEP keeps them (about 72 hours), else says plainly why it cannot and what
``mvsepd retry`` would cost. ``late_step`` judges its failures: a passing one is tried again
after a pause, anything else fails the delivery with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import structlog

from mvsepd import errors, outputs
from mvsepd.domain import lifecycle, naming
from mvsepd.domain.hashing import file_sha256
from mvsepd.engine import deliver, placing, stems
from mvsepd.engine.context import RESULT_LIFETIME_SECONDS, Context
from mvsepd.models import DeliveryRecord, DeliveryState, JobRecord

log = structlog.get_logger("mvsepd.engine")


def late_step(context: Context, delivery: DeliveryRecord) -> None:
    """``late``, with its failures judged: a passing one (the network, a full disk) is tried
    again after a pause; anything else fails the delivery with the reason."""
    try:
        current = context.store.delivery(delivery.id)
        if current.state is not DeliveryState.WAITING:
            return
        late(context, current)
        context.delivery_retry_at.pop(delivery.id, None)
    except Exception as error:  # noqa: BLE001 (every failure is judged and recorded)
        verdict = context.judge(error, delivery.job_id, delivery.source_name)
        if verdict.outcome is lifecycle.Outcome.FAIL:
            context.store.finish_delivery(delivery.id, DeliveryState.FAILED, reason=verdict.reason)
            context.feed.bump()
            log.warning("delivery_failed", delivery=delivery.id, reason=verdict.reason)
            return
        attempts = context.delivery_attempts.get(delivery.id, 0) + 1
        context.delivery_attempts[delivery.id] = attempts
        delay = lifecycle.retry_delay(attempts, rng=context.rng)
        context.delivery_retry_at[delivery.id] = context.clock() + delay
        log.info("delivery_retry", delivery=delivery.id, reason=verdict.reason, delay=round(delay))


def late(context: Context, delivery: DeliveryRecord) -> DeliveryRecord:
    """Place a delivery whose job finished before it was asked for (see the module docstring)."""
    job = context.store.get(delivery.job_id)
    copied = _copy_from_sibling(context, job, delivery)
    if copied is not None:
        return copied
    if job.separation_hash is None:
        return _cannot(context, job, delivery, "it has no MVSEP job to fetch from")
    try:
        status = context.client.get_separation(job.separation_hash, server=job.server)
    except errors.MvsepError as error:
        if not error.transient:
            return _cannot(context, job, delivery, f"MVSEP answered: {error.detail}")
        raise
    created = job.upload_started_at or job.created_at
    if not status.files or context.clock() - created >= RESULT_LIFETIME_SECONDS:
        return _cannot(context, job, delivery, "MVSEP no longer keeps its results (about 72 hours)")
    if not status.published:
        # Listed, but not every stem has an address (yet): never placed in part; asked again.
        raise errors.ProtocolError(
            "MVSEP has not published every stem of the job", endpoint="/separation/get"
        )
    placement = placing.place_for(context, job, delivery, status.files, primary=False)
    downloads = placement.plan.staging_dir
    outputs.make_staging(downloads)
    for index in sorted(placement.layout.needed | placing.fed_by(placement, status.files)):
        target = downloads / placement.layout.downloads[index]
        if not target.exists():
            context.client.download_result(status.files[index], target, server=job.server)
    placed = deliver.fulfil(context, job, placement, status.files, downloads, status.algorithm)
    outputs.discard(downloads)
    return placed


def _copy_from_sibling(
    context: Context, job: JobRecord, delivery: DeliveryRecord
) -> DeliveryRecord | None:
    """Copy a done plain delivery's placed stems, when they are on disk as its manifest says
    and this delivery wants the same thing (no chain, the same stem settings)."""
    if delivery.chain:
        return None
    wanted = _settings_of(context, delivery.folder_path)
    for sibling in context.store.deliveries(job.id, states=[DeliveryState.DONE]):
        if sibling.chain or sibling.output_dir is None:
            continue
        if _settings_of(context, sibling.folder_path) != wanted:
            continue
        manifest = _read_manifest(Path(sibling.output_dir), job.id)
        entries = manifest.get("outputs", []) if manifest else []
        if manifest is None or not entries or not all(_intact(entry) for entry in entries):
            continue
        return _place_copies(context, job, delivery, sibling, manifest, entries)
    return None


def _place_copies(
    context: Context,
    job: JobRecord,
    delivery: DeliveryRecord,
    sibling: DeliveryRecord,
    manifest: dict[str, Any],
    entries: list[dict[str, Any]],
) -> DeliveryRecord:
    folder = context.folder_for(delivery.folder_path)
    root = context.output_root_of(delivery.folder_path)
    template = folder.config.output if folder is not None else naming.DEFAULT_OUTPUT_TEMPLATE
    collision: outputs.Collision = folder.config.on_collision if folder is not None else "unique"
    source = Path(delivery.source_path)
    requests = [
        outputs.StemRequest(str(entry["label"]), Path(str(entry["path"])).suffix.lstrip("."))
        for entry in entries
    ]
    values = {
        "track": placing.track(source),
        "preset": delivery.preset_name,
        "subdir": placing.subdir_of(source, folder.path) if folder is not None else "",
        "step": "",
    }
    plan = outputs.plan(
        job_id=job.id,
        root=root,
        template=template,
        values=values,
        stems=requests,
        staging=outputs.delivery_staging_dir(root, delivery.id),
    )
    outputs.prepare(plan)
    placed = outputs.already_placed(plan)
    for target, entry in zip(plan.targets, entries, strict=True):
        if target.final not in placed:
            stems.copy_into(Path(str(entry["path"])), target.staged)
    document = {
        **{key: value for key, value in manifest.items() if key != "outputs"},
        "source": {"path": str(source), "sha256": job.content_sha256},
        "copied_from": {"job_id": job.id, "folder": sibling.output_dir},
    }
    written = outputs.finalize(plan, document, on_collision=collision)
    done = context.store.finish_delivery(
        delivery.id, DeliveryState.DONE, output_dir=str(plan.manifest.parent)
    )
    context.feed.bump()
    log.info(
        "stems_copied",
        job=job.id,
        file=source.name,
        folder=str(plan.manifest.parent),
        stems=[item.path.name for item in written],
        note=f"the same input with the same preset as job {job.id}: its stems, no new job",
    )
    return done


def _cannot(context: Context, job: JobRecord, delivery: DeliveryRecord, why: str) -> DeliveryRecord:
    made = placing.iso(job.created_at)
    reason = (
        f"{Path(delivery.source_path).name} is the same input with the same preset as job "
        f"{job.id} (made {made}); its stems cannot be placed here: {why}, and the first "
        "result is no longer on disk. `mvsepd retry "
        f"{job.id}` pays for it again"
    )
    failed = context.store.finish_delivery(delivery.id, DeliveryState.FAILED, reason=reason)
    context.feed.bump()
    log.warning("delivery_failed", job=job.id, reason=reason)
    return failed


def _settings_of(context: Context, folder_path: str) -> Any:
    folder = context.folder_for(folder_path)
    if folder is None:
        return context.config.defaults
    return context.config.folder_settings(folder.config)


def _read_manifest(directory: Path, job_id: int) -> dict[str, Any] | None:
    try:
        document = json.loads((directory / outputs.MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("job_id") != job_id:
        return None
    return document


def _intact(entry: dict[str, Any]) -> bool:
    path = Path(str(entry.get("path", "")))
    try:
        return path.is_file() and file_sha256(path) == entry.get("sha256")
    except OSError:
        return False
