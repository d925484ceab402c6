"""Placing a finished job's results where each of its deliveries asks, and feeding chains.

A job's downloads (``mvsep-NN.ext`` in its staging folder) serve every delivery: the drop that
made the job, the same input dropped into a second place, a chain step. ``fulfil`` places one
delivery: its plan (template, names, the chain step's ``keep``), conform against its source,
``outputs.finalize``, then, for a chain step, the stems that feed the next steps are copied
into the work folder (named by their SHA-256) and become the inputs of the next steps' jobs,
each with the existing identity key (a step re-run after a crash finds its job; the same stem
fed twice is one job).

``late`` places a delivery that arrives after its job is done (the same audio dropped again
later, a chain that reuses a finished job): from the first result while it is on disk, else
downloaded again while MVSEP keeps the job, else it says plainly why it cannot.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from mvsepd import __version__, errors, lifecycle, naming, outputs
from mvsepd.chains import ChainPlan, ChainStep, same_label
from mvsepd.engine import stems
from mvsepd.engine.context import RESULT_LIFETIME_SECONDS, Context
from mvsepd.hashing import file_sha256
from mvsepd.models import DeliveryRecord, DeliveryState, JobRecord, OutputFormat, ResultFile
from mvsepd.store import DeliveryKeys

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
        settings = context.config.stem_settings(folder.config)
        subdir = _subdir(source, folder.path)
    else:
        # The folder left the configuration while the job ran: use the default layout.
        template, collision, subdir = naming.DEFAULT_OUTPUT_TEMPLATE, "unique", ""
        settings = context.config.defaults
    chain, step = _chain_step(context, delivery)
    default_extension = OutputFormat(job.output_format or 0).extension
    layout = stems.lay_out(
        files,
        default_extension,
        settings,
        functools.partial(_root_source_audio, context, job, delivery),
        keeps=step.keeps if step is not None else (lambda label: True),
    )
    values = {
        "track": _track(source),
        "preset": delivery.preset_name,
        "subdir": subdir,
        "step": delivery.step,
    }
    staging = None if primary else outputs.delivery_staging_dir(root, delivery.id)
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
    return Placement(delivery, plan, layout, collision, step, chain)


def fulfil(
    context: Context,
    job: JobRecord,
    placement: Placement,
    files: Sequence[ResultFile],
    downloads: Path,
    algorithm: str | None,
) -> DeliveryRecord:
    """Place one delivery from the job's downloads; feed the next chain steps; mark it done."""
    plan, delivery = placement.plan, placement.delivery
    earlier = outputs.written_manifest(plan)
    if earlier is not None and earlier.get("mvsep", {}).get("hash") == job.separation_hash:
        # An earlier attempt placed every stem and wrote the manifest, then stopped before the
        # delivery was marked done: mark it now instead of placing the stems again.
        if plan.staging_dir != downloads:
            outputs.discard(plan.staging_dir)
        names = [str(item.get("name")) for item in earlier.get("outputs", [])]
        log.info("stems_found_in_place", job=job.id, note="placed by an interrupted attempt")
    else:
        names = _stage_and_finalize(context, job, placement, files, downloads, algorithm)
    if placement.step is not None and placement.chain is not None:
        _feed_next_steps(context, job, placement, files, downloads)
    done = context.store.finish_delivery(
        delivery.id, DeliveryState.DONE, output_dir=str(plan.manifest.parent)
    )
    if plan.staging_dir != downloads:
        outputs.discard(plan.staging_dir)
    if placement.chain is not None:
        _finish_chain_run(context, done, placement.chain, finishing=job.id)
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
    placement: Placement,
    files: Sequence[ResultFile],
    downloads: Path,
    algorithm: str | None,
) -> list[str]:
    plan, layout, delivery = placement.plan, placement.layout, placement.delivery
    outputs.prepare(plan)
    placed = outputs.already_placed(plan)
    report = stems.saved_report(plan)
    original = _original(context, job, delivery)
    if report is None and not placed:
        context.set_live(job.id, CONFORMING, 0, 0)

        def conforming(done: int, total: int) -> None:
            context.set_live(job.id, CONFORMING, done, total)

        report = stems.process(
            plan,
            layout,
            files,
            downloads=downloads,
            source_name=Path(delivery.source_path).name,
            original=original,
            origin=origin_words(job, delivery, algorithm),
            progress=conforming,
        )
    context.clear_live(job.id)
    manifest = manifest_of(context, job, delivery, algorithm, original)
    if report is not None:
        manifest["conform"] = report
    written = outputs.finalize(plan, manifest, on_collision=placement.collision)
    return [item.path.name for item in written]


#: The live phase while stems are checked and brought to their source's format.
CONFORMING = "conforming"


def _original(context: Context, job: JobRecord, delivery: DeliveryRecord) -> Path | None:
    """What the stems are compared with: the job's input (a chain step's stem, else the
    dropped file) while it still holds the job's audio."""
    source = Path(job.source_path)
    if job.input_kind != "file":
        return None  # a link, a prompt: nothing here to compare with; matchering changes it
    try:
        return source if file_sha256(source) == job.content_sha256 else None
    except OSError:
        return None


def _root_source_audio(context: Context, job: JobRecord, delivery: DeliveryRecord) -> Any:
    """The format stems are written in: the dropped file's (a chain step's too), as recorded
    when its job was probed, else read now."""
    if delivery.step and job.parent_job_id is not None:
        root = _root_job(context, job)
        return stems.source_audio(root)
    if job.input_kind in ("file", "matchering"):
        return stems.source_audio(job)
    return None


def _root_job(context: Context, job: JobRecord) -> JobRecord:
    current = job
    for _ in range(64):  # a chain is short; the bound keeps a corrupt store from looping
        if current.parent_job_id is None:
            return current
        current = context.store.get(current.parent_job_id)
    return current


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


def _feed_next_steps(
    context: Context,
    job: JobRecord,
    placement: Placement,
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
            output_format=int(preset.output_format),
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


def _finish_chain_run(
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
        "finished": _iso(context.clock()),
    }
    try:
        outputs.write_json(directory / outputs.MANIFEST_NAME, document)
    except OSError as error:
        log.warning("chain_manifest_unwritable", folder=str(directory), error=str(error))
    sweep_work_dir(context, finishing=finishing)
    log.info("chain_done", chain=chain.name, file=Path(delivery.source_path).name, steps=len(steps))


def sweep_work_dir(context: Context, *, finishing: int | None = None) -> None:
    """Remove feeding stems whose jobs are all over (``finishing``: a job placing its last
    delivery now, over once it returns)."""
    try:
        entries = list(context.work_dir.iterdir())
    except OSError:
        return
    needed = {
        Path(job.source_path).name
        for job in context.store.jobs()
        if job.parent_job_id is not None and not job.state.terminal and job.id != finishing
    }
    for entry in entries:
        if entry.name not in needed and not entry.name.startswith("."):
            entry.unlink(missing_ok=True)


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
        verdict = lifecycle.judge_error(error)
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
    placement = place_for(context, job, delivery, status.files, primary=False)
    downloads = placement.plan.staging_dir
    outputs.make_staging(downloads)
    for index in sorted(placement.layout.needed | fed_by(placement, status.files)):
        target = downloads / placement.layout.downloads[index]
        if not target.exists():
            context.client.download_result(status.files[index], target, server=job.server)
    return fulfil(context, job, placement, status.files, downloads, status.algorithm)


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
        "track": _track(source),
        "preset": delivery.preset_name,
        "subdir": _subdir(source, folder.path) if folder is not None else "",
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
    made = _iso(job.created_at)
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
    return context.config.stem_settings(folder.config)


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


def manifest_of(
    context: Context,
    job: JobRecord,
    delivery: DeliveryRecord,
    algorithm: str | None,
    original: Path | None,
) -> dict[str, Any]:
    """A delivery's manifest (its outputs are added by ``outputs.finalize``)."""
    document: dict[str, Any] = {
        "mvsepd_version": __version__,
        "job_id": job.id,
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
    if job.input_kind != "file":
        document["input"] = {"kind": job.input_kind, **job.input}
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


def _track(source: Path) -> str:
    name = source.name
    if name.casefold().endswith(".mvsep.yaml"):
        return name[: -len(".mvsep.yaml")]
    return source.stem


def _subdir(source: Path, folder: Path) -> str:
    try:
        relative = source.parent.relative_to(folder)
    except ValueError:
        return ""
    return relative.as_posix() if str(relative) != "." else ""


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, tz=datetime.timezone.utc).isoformat()
